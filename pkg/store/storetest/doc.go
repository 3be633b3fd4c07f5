// Package storetest is the conformance suite of kferry's buckets: one Run that
// every store pkg/store opens (mem://, file://, s3://, gs://, azblob://) must
// pass, the way restic runs one suite against every backend and gocloud runs
// drivertest against every driver.
//
// The suite opens buckets by URL through pkg/store, with credentials from the
// environment, exactly as a user's run does, and checks what kferry relies on:
// reads, overwrites, deletes and missing objects; listings that page, filter by
// prefix and fold folders; objects of many MiB written and read as streams (in
// parts on the stores that upload in parts) and read by range; a write that is
// abandoned leaves no object and no partial one; a URL path is a key prefix;
// Check's one-line errors for a missing bucket, denied access and an
// unreachable endpoint, which never show a secret; and Object Lock, which only
// s3:// takes.
//
// Cloud stores are tested against real protocol servers (versitygw,
// fake-gcs-server, Azurite) that scripts/test-env.sh starts; see
// pkg/store/conformance_test.go.
package storetest
