package record

import "time"

// TimestampType says where a record's timestamp came from, as Kafka records it.
type TimestampType int8

// The timestamp types Kafka knows.
const (
	TimestampUnknown       TimestampType = -1
	TimestampCreateTime    TimestampType = 0
	TimestampLogAppendTime TimestampType = 1
)

// String names the timestamp type as Kafka's tools do.
func (t TimestampType) String() string {
	switch t {
	case TimestampCreateTime:
		return "CreateTime"
	case TimestampLogAppendTime:
		return "LogAppendTime"
	default:
		return "NoTimestampType"
	}
}

// Header is one Kafka record header. A nil Value is a null header value, distinct
// from an empty one.
type Header struct {
	Key   string
	Value []byte
}

// Record is one Kafka record with everything kferry carries. A nil Key or Value is
// Kafka's null (a tombstone for values), distinct from an empty slice.
type Record struct {
	Topic         string
	Partition     int32
	Offset        int64
	Timestamp     time.Time
	TimestampType TimestampType
	Key           []byte
	Value         []byte
	Headers       []Header
}

// Size is the number of key, value and header bytes, the measure used for rotation
// and throughput.
func (r *Record) Size() int {
	n := len(r.Key) + len(r.Value)
	for _, h := range r.Headers {
		n += len(h.Key) + len(h.Value)
	}
	return n
}
