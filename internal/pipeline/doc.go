// Package pipeline is kferry's engine (partition runner, summaries, shards, the
// exactly-once resume) and the Confluent round trip built on it: export and
// import, one-shot and continuous. Backup and migrate build on it too.
package pipeline
