package demo

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"time"

	"github.com/hamba/avro/v2"
	"gocloud.dev/blob"

	"github.com/kferry/kferry/internal/kafka"
	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/internal/kafka/schemareg"
	"github.com/kferry/kferry/internal/pipeline"
	"github.com/kferry/kferry/internal/plan"
	"github.com/kferry/kferry/pkg/format"
	"github.com/kferry/kferry/pkg/format/avrofmt"
	"github.com/kferry/kferry/pkg/format/parquetfmt"
	"github.com/kferry/kferry/pkg/layout"
	"github.com/kferry/kferry/pkg/record"
	"github.com/kferry/kferry/pkg/store"
)

// OrderSchema is the Avro schema of the Avro demo's records.
const OrderSchema = `{"type":"record","name":"Order","namespace":"demo","fields":[
 {"name":"id","type":"long"},{"name":"customer","type":"string"},
 {"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":9,"scale":2}},
 {"name":"status","type":{"type":"enum","name":"Status","symbols":["NEW","PAID","SHIPPED"]}},
 {"name":"note","type":["null","string"],"default":null},
 {"name":"items","type":{"type":"array","items":{"type":"record","name":"Item","fields":[{"name":"sku","type":"string"},{"name":"qty","type":"int"}]}}},
 {"name":"ts","type":{"type":"long","logicalType":"timestamp-millis"}}]}`

// AvroTopic is the Avro demo's topic; it is imported as AvroTopic + "-copy".
const AvroTopic = "orders"

// avroPathFormat is the demo's time partitioner: Hive-style day folders.
const avroPathFormat = "'year'=YYYY/'month'=MM/'day'=dd"

// AvroResult is what the Avro demo measured.
type AvroResult struct {
	Produced, Matched   int64
	SourceID, TargetID  int
	Export, Import      pipeline.Summary
	Bucket, DuckDBQuery string
}

// RunAvro runs the Avro scenario: records in the Schema Registry wire format
// (a source registry) are exported as Parquet in daily Hive-style folders,
// then imported into a topic whose registry numbers schemas differently; every
// record must decode with the target registry to the value it had at the
// source, with the same key and headers.
func RunAvro(ctx context.Context, o Options) (AvroResult, error) {
	var res AvroResult
	o = o.withDefaults()
	log := o.Logger
	abs, url, cleanup, err := bucketFolder(o.Keep, "kferry-demo-avro-")
	if err != nil {
		return res, err
	}
	defer cleanup()
	res.Bucket = url

	cluster, err := kafkatest.Start(3)
	if err != nil {
		return res, err
	}
	defer cluster.Close()
	srcReg, dstReg := kafkatest.StartRegistry(), kafkatest.StartRegistry()
	defer srcReg.Close()
	defer dstReg.Close()
	// The target registry already gave ids away: the copy's ids must differ.
	for i := range 3 {
		if _, err := dstReg.RegisterAvro("other-value", fmt.Sprintf(`{"type":"record","name":"Other%d","fields":[{"name":"x","type":"int"}]}`, i)); err != nil {
			return res, err
		}
	}
	if res.SourceID, err = srcReg.RegisterAvro(AvroTopic+"-value", OrderSchema); err != nil {
		return res, err
	}
	o.say("demo: in-process Kafka (3 brokers), source and target Schema Registries (%s, %s), bucket %s\n", srcReg.URL(), dstReg.URL(), res.Bucket)
	if err := cluster.CreateTopic(ctx, AvroTopic, o.Partitions); err != nil {
		return res, err
	}
	start := time.Now()
	if err := produceAvro(ctx, cluster, o, res.SourceID); err != nil {
		return res, fmt.Errorf("produce: %w", err)
	}
	res.Produced = int64(o.Records)
	o.say("demo: produced %d Avro records (schema id %d) over 3 days into %s (%d partitions) in %.2fs\n", o.Records, res.SourceID, AvroTopic, o.Partitions, time.Since(start).Seconds())

	b, err := store.Open(ctx, res.Bucket)
	if err != nil {
		return res, err
	}
	defer closeBucket(b)
	kc, err := kafka.Dial(ctx, cluster.Config())
	if err != nil {
		return res, err
	}
	defer kc.Close()
	if err := exportImportAvro(ctx, kc, b, o, log, abs, srcReg.URL(), dstReg.URL(), &res); err != nil {
		return res, err
	}
	if err := verifyAvro(ctx, cluster.Config(), srcReg.URL(), dstReg.URL(), &res); err != nil {
		return res, err
	}
	o.say("demo: verified %d of %d records: same partition, order, key and headers; each value decodes with the target registry (schema id %d, was %d) to the source's value\n", res.Matched, res.Produced, res.TargetID, res.SourceID)
	return res, nil
}

// exportImportAvro exports the Avro topic as Parquet in daily folders (the
// source registry's schemas) and imports it renamed (the target registry).
func exportImportAvro(ctx context.Context, kc *kafka.Client, b *blob.Bucket, o Options, log *slog.Logger, abs, srcURL, dstURL string, res *AvroResult) error {
	pc := pipeline.PartitionerConfig{Kind: "time", PathFormat: avroPathFormat, Duration: 24 * time.Hour, Timezone: "UTC", Locale: "en", Timestamp: "record"}
	folder, lay, err := pc.Partitioner()
	if err != nil {
		return err
	}
	exCtx, err := bindRegistry(ctx, srcURL, nil)
	if err != nil {
		return err
	}
	res.Export, err = pipeline.Export(exCtx, kc, b, res.Bucket, pipeline.ExportOptions{
		Selector: plan.Selector{Regex: regexp.MustCompile(`\A` + AvroTopic + `\z`)}, Format: "parquet",
		StoreKeys: true, StoreHeaders: true, KeysFormat: "parquet", HeadersFormat: "parquet",
		Naming: layout.Naming{TopicsDir: layout.DefaultTopicsDir}, Folder: folder, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("export: %w", err)
	}
	o.say("demo: exported %d records as Parquet to %d objects in daily folders (%s) in %.2fs\n", res.Export.Records, res.Export.Objects, avroPathFormat, res.Export.Seconds)
	res.DuckDBQuery = fmt.Sprintf(`duckdb -c "SELECT year, month, day, count(*) AS orders, sum(amount) FROM read_parquet('%s/topics/%s/*/*/*/%s+*+[0-9]*[0-9].snappy.parquet', hive_partitioning = true) GROUP BY ALL ORDER BY ALL"`, abs, AvroTopic, AvroTopic)
	o.say("demo: query them, e.g. (with --keep): %s\n", res.DuckDBQuery)

	renames, err := layout.ParseRenames([]string{AvroTopic + "=" + AvroTopic + "-copy"})
	if err != nil {
		return err
	}
	imCtx, err := bindRegistry(ctx, dstURL, renames)
	if err != nil {
		return err
	}
	res.Import, err = pipeline.Import(imCtx, kc, b, res.Bucket, pipeline.ImportOptions{
		Renames: renames, TopicsDir: layout.DefaultTopicsDir, Layout: lay, CreateTopics: true, ReplicationFactor: -1, Logger: log,
	})
	if err != nil {
		return fmt.Errorf("import: %w", err)
	}
	o.say("demo: imported %d records into %s-copy, registering the schema in the target registry, in %.2fs\n", res.Import.Records, AvroTopic, res.Import.Seconds)
	return nil
}

// bindRegistry returns ctx carrying the avro and parquet formats bound to the
// registry at url, subjects named after the renamed topics.
func bindRegistry(ctx context.Context, url string, renames layout.Renames) (context.Context, error) {
	cl, err := schemareg.New(schemareg.Config{URL: url, Timeout: 10 * time.Second})
	if err != nil {
		return ctx, err
	}
	cl.Subject = func(topic string, view layout.View) string {
		if dst, err := renames.Target(topic); err == nil {
			topic = dst
		}
		return schemareg.TopicNameStrategy(topic, view)
	}
	af, err := avrofmt.New(ctx, cl, "")
	if err != nil {
		return ctx, err
	}
	pf, err := parquetfmt.New(af, "snappy", 0)
	if err != nil {
		return ctx, err
	}
	return format.WithFormats(ctx, af, pf), nil
}

// demoOrder is one record of OrderSchema.
type demoOrder struct {
	ID       int64      `avro:"id"`
	Customer string     `avro:"customer"`
	Amount   []byte     `avro:"amount"`
	Status   string     `avro:"status"`
	Note     *string    `avro:"note"`
	Items    []demoItem `avro:"items"`
	TS       int64      `avro:"ts"`
}

type demoItem struct {
	SKU string `avro:"sku"`
	Qty int32  `avro:"qty"`
}

// avroEpoch is the demo's first record time: three days from it are spread
// over the records, so the daily partitioner writes three folders.
var avroEpoch = time.Date(2026, 11, 28, 0, 0, 0, 0, time.UTC)

// produceAvro writes o.Records orders in the wire format (schema id), keyed,
// with a header, timestamps spread over three days.
func produceAvro(ctx context.Context, c *kafkatest.Cluster, o Options, id int) error {
	sch, err := avro.Parse(OrderSchema)
	if err != nil {
		return err
	}
	w, err := kafka.NewWriter(ctx, c.Config(), kafka.WriterOptions{KeepTimestamps: true})
	if err != nil {
		return err
	}
	defer w.Close()
	step := 3 * 24 * time.Hour / time.Duration(o.Records)
	for i := range o.Records {
		ts := avroEpoch.Add(time.Duration(i) * step)
		v := demoOrder{ID: int64(i), Customer: fmt.Sprintf("customer-%04d", i%5000), Amount: []byte{byte(i % 97), byte(i % 251)},
			Status: []string{"NEW", "PAID", "SHIPPED"}[i%3], TS: ts.UnixMilli(),
			Items: []demoItem{{SKU: fmt.Sprintf("sku-%d", i%100), Qty: int32(1 + i%5)}}}
		if i%4 == 0 {
			note := fmt.Sprintf("gift %d", i)
			v.Note = &note
		}
		b, err := avro.Marshal(sch, v)
		if err != nil {
			return err
		}
		rec := record.Record{
			Topic: AvroTopic, Partition: int32(i % int(o.Partitions)), Timestamp: ts, //nolint:gosec // G115: below o.Partitions
			Key:     fmt.Appendf(nil, "order-%d", i),
			Value:   avrofmt.AppendWire(nil, id, b),
			Headers: []record.Header{{Key: "trace-id", Value: fmt.Appendf(nil, "%016x", i*7919)}},
		}
		if err := w.Produce(ctx, &rec); err != nil {
			return err
		}
	}
	return w.Flush(ctx)
}

// verifyAvro compares orders with orders-copy: keys, headers and timestamps
// as bytes, values as the Avro values they decode to, each with its own
// cluster's registry; the copy's ids must be the target registry's.
func verifyAvro(ctx context.Context, cfg kafka.Config, srcURL, dstURL string, res *AvroResult) error {
	var decodeErr error
	digestWith := func(url string, ids map[int]bool) (func(*record.Record) [32]byte, error) {
		cl, err := schemareg.New(schemareg.Config{URL: url, Timeout: 10 * time.Second})
		if err != nil {
			return nil, err
		}
		schemas := map[int]avro.Schema{}
		return func(r *record.Record) [32]byte {
			canon := r.Value
			w, err := avrofmt.ParseWire(r.Value)
			if err == nil {
				ids[w.ID] = true
				s, ok := schemas[w.ID]
				if !ok {
					var text avrofmt.Schema
					if text, err = cl.SchemaByID(ctx, w.ID); err == nil {
						s, err = avro.Parse(text.Text)
					}
					schemas[w.ID] = s
				}
				var v any
				if err == nil {
					err = avro.Unmarshal(s, w.Payload, &v)
				}
				canon = fmt.Append(nil, v) // fmt prints maps sorted
			}
			if err != nil && decodeErr == nil {
				decodeErr = fmt.Errorf("%s/%d offset %d: %w", r.Topic, r.Partition, r.Offset, err)
			}
			c := *r
			c.Value = canon
			return digest(&c)
		}, nil
	}
	srcIDs, dstIDs := map[int]bool{}, map[int]bool{}
	srcDigest, err := digestWith(srcURL, srcIDs)
	if err != nil {
		return err
	}
	dstDigest, err := digestWith(dstURL, dstIDs)
	if err != nil {
		return err
	}
	n, err := compareTopics(ctx, cfg, AvroTopic, AvroTopic+"-copy", srcDigest, dstDigest)
	res.Matched = n
	if err = cmp.Or(err, decodeErr); err != nil {
		return fmt.Errorf("verify %s -> %s-copy: %w", AvroTopic, AvroTopic, err)
	}
	if len(dstIDs) != 1 || dstIDs[res.SourceID] {
		return fmt.Errorf("verify: the copy's schema ids are %v; want one, the target registry's (the source's was %d)", dstIDs, res.SourceID)
	}
	for id := range dstIDs {
		res.TargetID = id
	}
	if res.Matched != res.Produced {
		return fmt.Errorf("verify: %d of %d records matched", res.Matched, res.Produced)
	}
	return nil
}
