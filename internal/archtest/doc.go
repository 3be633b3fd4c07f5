// Package archtest holds no code, only a test that keeps kferry's layers apart as
// DESIGN.md draws them (who may import franz-go, gocloud drivers, internal/*).
package archtest
