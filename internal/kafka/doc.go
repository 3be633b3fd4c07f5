// Package kafka is kferry's only door to Kafka: clients built from Config, topic
// metadata and offsets, ranged partition reads and ordered, idempotent writes.
package kafka
