// Package pipeline runs kferry's one-shot jobs: export reads partitions and writes
// Confluent-layout objects; import lists objects and writes them back to Kafka.
package pipeline
