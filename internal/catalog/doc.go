// Package catalog knows what a bucket holds: the Confluent objects under the
// topics folder grouped by topic and partition, kferry's offsets records and
// topic metadata beside them, and the backups' manifests.
package catalog
