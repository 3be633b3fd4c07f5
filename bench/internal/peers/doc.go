// Package peers is the result file of make bench-peers (bench/peers.sh): what
// one run measured for kferry and its peers (Kafka's perf tools, kcat,
// MirrorMaker 2, Kafka Connect), read from the script's tab-separated files and
// kept as JSON under bench/results/ so that a later run can be compared with
// it (bench/compare).
package peers
