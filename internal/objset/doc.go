// Package objset writes and reads one object's set of views (values, and the
// keys and headers siblings) in lock step, streaming, with checksums.
package objset
