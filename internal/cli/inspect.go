package cli

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/spf13/cobra"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/catalog"
	"github.com/kferry/kferry/internal/objset"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/manifest"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/seal"
	"github.com/kferry/kferry/pkg/store"
)

type lsOptions struct {
	key         keyFlags
	topicsDir   string
	partitioner partitionerFlags
	json        bool
	backupID    string
}

func newLsCmd(g *globals) *cobra.Command {
	o := &lsOptions{}
	cmd := &cobra.Command{
		Use:   "ls URL [--backup ID]",
		Short: "Show the topics, partitions and objects of a bucket",
		Long: `ls shows what a bucket holds. A bucket with kferry backups: every backup (id,
parent, topics, groups, records, offsets lost to retention gaps, time range),
then per partition of the newest backup (or --backup ID) its records, first and
last offsets, gaps, time range, objects and stored bytes (compressed, encrypted
when the backup is), and how many objects no manifest lists. Any other bucket is
listed in the Confluent S3 Sink layout: per topic and partition the number of
objects, the first and last object's start offsets and the stored bytes (as in
the bucket: gzip-compressed for .gz objects, sidecars included); record counts
and time ranges of such objects are known only by reading them (kferry cat).

Exit status: 0 done, 1 failed, 2 usage error.` + envHelp,
		Example: `  kferry ls s3://bucket/backup?region=eu-west-1
  kferry ls file:///tmp/out --json`,
		Args: checkArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags(), nil); err != nil {
				return err
			}
			return runLs(cmd.Context(), g, args[0], o)
		},
	}
	cmd.Flags().StringVar(&o.topicsDir, "topics-dir", layout.DefaultTopicsDir, "top folder of the objects (topics.dir)")
	o.partitioner.addFlags(cmd.Flags(), false)
	cmd.Flags().BoolVar(&o.json, "json", false, "print JSON instead of a table")
	cmd.Flags().StringVar(&o.backupID, "backup", "", "backup whose partitions to show (default: the newest)")
	o.key.addFlags(cmd.Flags())
	return cmd
}

type lsPartition struct {
	Topic         string `json:"topic"`
	Partition     int32  `json:"partition"`
	Objects       int    `json:"objects"`
	FirstStart    int64  `json:"first_start_offset"`
	LastStart     int64  `json:"last_start_offset"`
	Bytes         int64  `json:"bytes"`
	KeysObjects   int    `json:"keys_objects"`
	HeaderObjects int    `json:"headers_objects"`
}

func runLs(ctx context.Context, g *globals, raw string, o *lsOptions) error {
	if err := checkTopicsDir(o.topicsDir); err != nil {
		return err
	}
	b, err := openBucket(ctx, raw)
	if err != nil {
		return err
	}
	defer closeBucket(b)
	objLayout, err := o.partitioner.layout()
	if err != nil {
		return err
	}
	cat, err := catalog.Scan(ctx, b, o.topicsDir, objLayout, false)
	if err != nil {
		return err
	}
	rows := lsRows(cat)
	key, err := o.key.load()
	if err != nil {
		return err
	}
	backups, manifests, err := listBackups(ctx, b, key)
	if err != nil {
		return err
	}
	view, err := newBackupView(ctx, b, o.backupID, backups, manifests)
	if err != nil {
		return err
	}
	if o.backupID != "" && view == nil {
		return usageErrorf("--backup %s: the bucket holds no backup", o.backupID)
	}
	if o.json {
		enc := json.NewEncoder(g.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(map[string]any{"bucket": store.Redact(raw), "partitions": rows, "skipped_keys": len(cat.Skipped), "backups": backups, "backup": view})
	}
	out := &printer{w: g.stdout}
	if len(backups) > 0 {
		out.printf("%-22s %-22s %6s %6s %12s %10s %-24s %-24s\n", "BACKUP", "PARENT", "TOPICS", "GROUPS", "RECORDS", "GAPS", "OLDEST RECORD", "NEWEST RECORD")
		for _, bk := range backups {
			if bk.Encrypted {
				out.printf("%-22s (encrypted: pass --encrypt-key-file to see its contents)\n", bk.ID)
				continue
			}
			out.printf("%-22s %-22s %6d %6d %12d %10d %-24s %-24s\n", bk.ID, orDash(bk.Parent), bk.Topics, bk.Groups, bk.Records, bk.GapOffsets, msTime(bk.MinTimestamp), msTime(bk.MaxTimestamp))
		}
		out.println()
		printBackupView(out, view, store.Redact(raw))
		return out.err
	}
	out.printf("%-32s %9s %8s %14s %14s %12s %s\n", "TOPIC", "PARTITION", "OBJECTS", "FIRST-START", "LAST-START", "STORED-BYTES", "SIDECARS")
	for _, r := range rows {
		side := []string{}
		if r.KeysObjects > 0 {
			side = append(side, fmt.Sprintf("keys:%d", r.KeysObjects))
		}
		if r.HeaderObjects > 0 {
			side = append(side, fmt.Sprintf("headers:%d", r.HeaderObjects))
		}
		out.printf("%-32s %9d %8d %14d %14d %12d %s\n", r.Topic, r.Partition, r.Objects, r.FirstStart, r.LastStart, r.Bytes, strings.Join(side, " "))
	}
	if len(cat.Skipped) > 0 {
		out.printf("%d keys under %q are not object names (first: %s)\n", len(cat.Skipped), o.topicsDir, cat.Skipped[0])
	}
	return out.err
}

type catOptions struct {
	topicsDir string
	key       keyFlags
}

func newCatCmd(g *globals) *cobra.Command {
	o := &catOptions{}
	cmd := &cobra.Command{
		Use:   "cat URL/OBJECT-KEY",
		Short: "Print an object's records as JSON lines",
		Long: `cat prints the records of one values object, with its .keys and .headers objects
when present, as JSON lines: {"topic","partition","offset","timestamp",
"timestamp_type","key","value","headers"}. Values that are JSON are embedded as
JSON; other bytes are a string when they are UTF-8 text and {"base64": "..."}
otherwise. Native objects (.kfr, as backup writes them) carry each record's
offset, timestamp (Unix milliseconds) and timestamp type (CreateTime,
LogAppendTime); for the other formats offsets are the object's start offset plus
the record's index, and timestamp is printed only when the format keeps one.

Exit status: 0 done, 1 failed, 2 usage error.` + envHelp,
		Example: `  kferry cat file:///tmp/out/topics/orders/partition=3/orders+3+0000000040.json
  kferry cat file:///backups/kafka/topics/orders/partition=0/orders+0+0000000000.kfr`,
		Args: checkArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := applyEnv(cmd.Flags(), nil); err != nil {
				return err
			}
			return runCat(cmd.Context(), g, args[0], o)
		},
	}
	cmd.Flags().StringVar(&o.topicsDir, "topics-dir", layout.DefaultTopicsDir, "top folder of the objects (topics.dir)")
	o.key.addFlags(cmd.Flags())
	return cmd
}

// splitObjectURL splits "scheme://bucket/prefix/topics/t/partition=0/name" into the
// bucket URL and the object key, at the last "/<topicsDir>/" that starts a valid
// object key.
func splitObjectURL(raw, topicsDir string) (string, string, layout.Object, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" {
		u = &url.URL{Scheme: "file", Path: raw}
	}
	path := u.Path
	marker := "/" + strings.Trim(topicsDir, "/") + "/"
	for i := strings.LastIndex(path, marker); i >= 0; i = strings.LastIndex(path[:i], marker) {
		key := path[i+1:]
		obj, err := layout.ParseIn(key, topicsDir, layout.AnyLayout{})
		if err != nil {
			continue
		}
		bu := *u
		bu.Path = path[:i]
		if bu.Scheme == "file" && bu.Path == "" {
			bu.Path = "/"
		}
		return bu.String(), key, obj, nil
	}
	return "", "", layout.Object{}, usageErrorf("%s does not end in an object key like %s/<topic>/partition=<p>/<topic>+<p>+<offset>.<ext> (or another partitioner's folders)", store.Redact(raw), topicsDir)
}

func runCat(ctx context.Context, g *globals, raw string, o *catOptions) error {
	if err := checkTopicsDir(o.topicsDir); err != nil {
		return err
	}
	bucketURL, key, obj, err := splitObjectURL(raw, o.topicsDir)
	if err != nil {
		return err
	}
	if obj.View != layout.ViewValues {
		return usageErrorf("%s is a %s object; cat the values object and its sidecars are read with it", key, obj.View)
	}
	b, err := openBucket(ctx, bucketURL)
	if err != nil {
		return err
	}
	defer closeBucket(b)
	group := catalog.Group{Start: obj.StartOffset, Values: catalog.ObjectInfo{Object: obj, Key: key}}
	for _, v := range []layout.View{layout.ViewKeys, layout.ViewHeaders} {
		// The value's extension first, then any other (--headers-format
		// json or parquet beside avro values, say).
		for _, ext := range append([]string{obj.Ext}, format.Exts()...) {
			side := obj
			side.View, side.Ext = v, ext
			sideKey := sidecarKey(key, v, obj.Ext, ext)
			if ok, _ := b.Exists(ctx, sideKey); ok {
				info := &catalog.ObjectInfo{Object: side, Key: sideKey}
				if v == layout.ViewKeys {
					group.Keys = info
				} else {
					group.Headers = info
				}
				break
			}
		}
	}
	enc := json.NewEncoder(g.stdout)
	enc.SetEscapeHTML(false) // print values as they are: <, > and & stay themselves
	sealKey, err := o.key.load()
	if err != nil {
		return err
	}
	err = objset.Dump(ctx, b, group, sealKey, func(rec *record.Record) error {
		// json objects, and parquet objects of JSON values (cat cannot show
		// the others), hold JSON values.
		return enc.Encode(catLine(rec, obj.Ext == ".json" || strings.HasSuffix(obj.Ext, ".parquet")))
	})
	if errors.Is(err, avrofmt.ErrNoRegistry) {
		return fmt.Errorf("%s holds Avro records whose schema a Schema Registry must give an id to, which cat does not do (it would register schemas); read it with an Avro or Parquet reader (fastavro, DuckDB), or import it", key)
	}
	return err
}

// sidecarKey turns ".../t+0+00.json[.gz]" into ".../t+0+00.keys.<ext>[.gz]".
func sidecarKey(key string, v layout.View, valueExt, sideExt string) string {
	gz := strings.HasSuffix(key, ".gz")
	base := strings.TrimSuffix(key, ".gz")
	base = strings.TrimSuffix(base, valueExt)
	out := base + "." + v.String() + sideExt
	if gz {
		out += ".gz"
	}
	return out
}

func catLine(rec *record.Record, valueIsJSON bool) map[string]any {
	line := map[string]any{"topic": rec.Topic, "partition": rec.Partition, "offset": rec.Offset}
	if !rec.Timestamp.IsZero() {
		line["timestamp"] = rec.Timestamp.UnixMilli()
		line["timestamp_type"] = rec.TimestampType.String()
	}
	if rec.Key != nil {
		line["key"] = bytesJSON(rec.Key, false)
	}
	line["value"] = bytesJSON(rec.Value, valueIsJSON)
	if rec.Headers != nil {
		hs := make([]map[string]any, 0, len(rec.Headers))
		for _, h := range rec.Headers {
			hs = append(hs, map[string]any{"key": h.Key, "value": bytesJSON(h.Value, false)})
		}
		line["headers"] = hs
	}
	return line
}

func bytesJSON(b []byte, isJSON bool) any {
	switch {
	case b == nil:
		return nil
	case isJSON && json.Valid(b):
		return json.RawMessage(b)
	case utf8.Valid(b):
		return string(b)
	}
	return map[string]string{"base64": base64.StdEncoding.EncodeToString(b)}
}

type lsBackup struct {
	ID           string `json:"id"`
	Parent       string `json:"parent,omitempty"`
	Topics       int    `json:"topics"`
	Groups       int    `json:"groups"`
	Records      int64  `json:"records"`
	MinTimestamp int64  `json:"min_timestamp"`
	MaxTimestamp int64  `json:"max_timestamp"`
	Warnings     int    `json:"warnings"`
	// Gaps counts the ranges of offsets retention removed before they were
	// backed up, GapOffsets the offsets in them.
	Gaps       int   `json:"gaps"`
	GapOffsets int64 `json:"gap_offsets"`
	Encrypted  bool  `json:"encrypted,omitempty"` // and no (right) key given: no details
}

// listBackups summarises every manifest in the bucket, oldest first, and
// returns those it could read (all but encrypted ones without their key).
func listBackups(ctx context.Context, b *blob.Bucket, key *seal.Key) ([]lsBackup, []*manifest.Manifest, error) {
	ids, err := catalog.ListBackups(ctx, b)
	if err != nil {
		return nil, nil, err
	}
	var out []lsBackup
	var read []*manifest.Manifest
	for _, id := range ids {
		m, err := catalog.LoadManifest(ctx, b, id, key)
		if errors.Is(err, manifest.ErrSealed) {
			out = append(out, lsBackup{ID: id, Encrypted: true})
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		read = append(read, m)
		bk := lsBackup{ID: m.ID, Parent: m.Parent, Topics: len(m.Topics), Groups: len(m.Groups), MinTimestamp: m.MinTimestamp, MaxTimestamp: m.MaxTimestamp, Warnings: len(m.Warnings)}
		for _, t := range m.Topics {
			for _, p := range t.Partition {
				bk.Records += p.Records
				bk.Gaps += len(p.Gaps)
				for _, g := range p.Gaps {
					bk.GapOffsets += g.To - g.From
				}
			}
		}
		out = append(out, bk)
	}
	return out, read, nil
}

func msTime(ms int64) string {
	if ms <= 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format(time.RFC3339)
}

// lsRows is one row per partition of the bucket's Confluent objects, sidecars
// counted.
func lsRows(cat *catalog.Catalog) []lsPartition {
	var rows []lsPartition
	for _, t := range cat.TopicNames() {
		for _, p := range cat.Partitions(t) {
			row := lsPartition{Topic: t, Partition: p.Partition, Objects: len(p.Groups), Bytes: p.Bytes,
				FirstStart: p.Groups[0].Start, LastStart: p.Groups[len(p.Groups)-1].Start}
			for _, gr := range p.Groups {
				if gr.Keys != nil {
					row.KeysObjects++
					row.Bytes += gr.Keys.Size
				}
				if gr.Headers != nil {
					row.HeaderObjects++
					row.Bytes += gr.Headers.Size
				}
			}
			rows = append(rows, row)
		}
	}
	return rows
}
