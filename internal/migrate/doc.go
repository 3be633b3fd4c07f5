// Package migrate copies topics from one Kafka cluster to another through a
// bucket: a continuous export and import, with lag, cutover and group offsets.
package migrate
