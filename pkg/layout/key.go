package layout

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// DefaultTopicsDir is Confluent's default topics.dir, the folder that holds one folder per topic.
const DefaultTopicsDir = "topics"

// DefaultPad is Confluent's default filename.offset.zero.pad.width.
const DefaultPad = 10

// maxTopicLen is Kafka's limit on the length of a topic name.
const maxTopicLen = 249

// partitionFolder is the DefaultPartitioner's encoded-partition prefix.
const partitionFolder = "partition="

// ErrNotObject means a key is not a Confluent S3 Sink object name in the default partitioner's layout.
var ErrNotObject = errors.New("not a Confluent S3 Sink object key")

// ErrInvalidTopic means a name breaks Kafka's topic naming rules.
var ErrInvalidTopic = errors.New("invalid Kafka topic name")

// View says which of Confluent's parallel objects a key names.
type View int

const (
	// ViewValues is the object that holds record values; its key has no view infix.
	ViewValues View = iota
	// ViewKeys is the ".keys" sidecar that holds record keys.
	ViewKeys
	// ViewHeaders is the ".headers" sidecar that holds record headers.
	ViewHeaders
)

// String returns "values", "keys" or "headers".
func (v View) String() string {
	switch v {
	case ViewValues:
		return "values"
	case ViewKeys:
		return "keys"
	case ViewHeaders:
		return "headers"
	}
	return "View(" + strconv.Itoa(int(v)) + ")"
}

// infix is what Confluent's Utils.getAdjustedFilename inserts before the format extension.
func (v View) infix() string {
	switch v {
	case ViewKeys:
		return ".keys"
	case ViewHeaders:
		return ".headers"
	}
	return ""
}

// Object is the parsed form of one object key.
type Object struct {
	Topic       string
	Partition   int32
	StartOffset int64
	View        View
	// Ext is the format extension without view and compression, with its dot:
	// ".json", ".bin", ".avro", ".snappy.parquet", ".kfr".
	Ext string
	// Gzip says the key ends in ".gz".
	Gzip bool
	// Folder is the encoded partition between the topic's folder and the file
	// name, without slashes at its ends: "" or "partition=<p>" for the default
	// partitioner, "year=2026/month=11/day=30" for a time-based one.
	Folder string
}

// Naming holds the writer-side settings of object keys.
type Naming struct {
	// TopicsDir is the prefix folder; "" means none. Callers pass DefaultTopicsDir by default.
	// Leading and trailing slashes are ignored.
	TopicsDir string
	// Pad is the zero-pad width of the start offset; 0 (or less) means DefaultPad.
	Pad int
}

// Key returns the object key of o, for example
// "topics/orders/partition=3/orders+3+0000000040.keys.json.gz", or with o.Folder
// "topics/orders/year=2026/month=11/orders+3+0000000040.json".
// Offsets wider than the pad are written in full, as Confluent does.
// Key does not validate o: Parse rejects the key of an invalid object.
func (n Naming) Key(o Object) string {
	pad := n.Pad
	if pad <= 0 {
		pad = DefaultPad
	}
	var b strings.Builder
	if o.Folder == "" {
		b.WriteString(n.PartitionPrefix(o.Topic, o.Partition))
	} else {
		b.WriteString(n.TopicPrefix(o.Topic) + o.Folder + "/")
	}
	b.WriteString(o.Topic)
	b.WriteByte('+')
	b.WriteString(strconv.FormatInt(int64(o.Partition), 10))
	b.WriteByte('+')
	fmt.Fprintf(&b, "%0*d", pad, o.StartOffset)
	b.WriteString(o.View.infix())
	b.WriteString(o.Ext)
	if o.Gzip {
		b.WriteString(".gz")
	}
	return b.String()
}

// PartitionPrefix returns the folder of one Kafka partition with a trailing slash,
// for example "topics/orders/partition=3/".
func (n Naming) PartitionPrefix(topic string, p int32) string {
	return n.TopicPrefix(topic) + partitionFolder + strconv.FormatInt(int64(p), 10) + "/"
}

// TopicPrefix returns the folder of one topic with a trailing slash, for example "topics/orders/".
func (n Naming) TopicPrefix(topic string) string {
	if d := cleanDir(n.TopicsDir); d != "" {
		return d + "/" + topic + "/"
	}
	return topic + "/"
}

// ErrInvalidTopicsDir means a topics dir cannot name a folder of object keys.
var ErrInvalidTopicsDir = errors.New("invalid topics dir")

// CheckTopicsDir refuses a topics dir that names no folder ("" or only
// slashes) or holds an empty, "." or ".." path segment: such keys would not
// stay under the bucket prefix, or would be escaped by a store into another
// name ("..__0x2f__x"). Errors wrap ErrInvalidTopicsDir.
func CheckTopicsDir(dir string) error {
	d := cleanDir(dir)
	if d == "" {
		return fmt.Errorf("%w: %q names no folder (Confluent's default is %q)", ErrInvalidTopicsDir, dir, DefaultTopicsDir)
	}
	for _, seg := range strings.Split(d, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return fmt.Errorf("%w: %q: path segment %q is not allowed", ErrInvalidTopicsDir, dir, seg)
		}
	}
	return nil
}

// cleanDir drops the slashes around a topics dir so "topics/" and "topics" name the same folder.
func cleanDir(dir string) string {
	return strings.Trim(dir, "/")
}

// Parse parses an object key of the form <topicsDir>/<topic>/partition=<p>/<topic>+<p>+<offset><ext>
// (the default partitioner's layout): ParseIn with DefaultLayout.
func Parse(key, topicsDir string) (Object, error) {
	return ParseIn(key, topicsDir, DefaultLayout{})
}

// ParseIn parses an object key of the form <topicsDir>/<topic>/<folder>/<topic>+<p>+<offset><ext>
// whose folder (one or more path segments, the encoded partition) l accepts. The offset may have
// any pad width. The topic and partition come from the file name, as in Confluent's S3 Source,
// but the topic's folder must agree. A ".keys" or ".headers" infix right after the offset sets
// View, a ".gz" suffix sets Gzip, and what is left must be a non-empty Ext. topicsDir may be ""
// or contain slashes. Every error wraps ErrNotObject and names the key.
func ParseIn(key, topicsDir string, l Layout) (Object, error) {
	if strings.HasPrefix(key, "/") {
		return Object{}, notObject(key, "absolute key")
	}
	if slices.Contains(strings.Split(key, "/"), "..") {
		return Object{}, notObject(key, `path segment ".." is not allowed`)
	}
	rest := key
	if d := cleanDir(topicsDir); d != "" {
		var ok bool
		if rest, ok = strings.CutPrefix(key, d+"/"); !ok {
			return Object{}, notObject(key, "not under topics dir %q", d)
		}
	}
	segs := strings.Split(rest, "/")
	if len(segs) < 3 {
		return Object{}, notObject(key, "want <topic>/<folder>/<file> under the topics dir (%s), got %d path segments", l, len(segs))
	}
	folderTopic, name := segs[0], segs[len(segs)-1]
	folder := strings.Join(segs[1:len(segs)-1], "/")
	if folder == "tombstone" {
		return Object{}, notObject(key, "the tombstone folder (behavior.on.null.values=write) is not supported")
	}
	o, err := parseName(key, name)
	if err != nil {
		return Object{}, err
	}
	if slices.Contains(segs, "") {
		return Object{}, notObject(key, "empty path segment")
	}
	if err := ValidTopic(o.Topic); err != nil {
		return Object{}, fmt.Errorf("object key %q: %w: %w", key, err, ErrNotObject)
	}
	if folderTopic != o.Topic {
		return Object{}, notObject(key, "topic folder %q differs from topic %q in the file name", folderTopic, o.Topic)
	}
	if err := l.CheckFolder(o.Partition, folder); err != nil {
		return Object{}, notObject(key, "%v", err)
	}
	if folder != partitionFolder+strconv.FormatInt(int64(o.Partition), 10) {
		o.Folder = folder // the default partitioner's is "", as Key writes it
	}
	return o, nil
}

// Layout says which folders between a topic's folder and an object's file name
// (Confluent's encoded partitions) belong to a partitioner's layout: import
// finds objects the way the S3 Source does, given the sink's partitioner.
type Layout interface {
	// CheckFolder returns an error that says why folder is not one of the
	// layout's for an object of Kafka partition p.
	CheckFolder(p int32, folder string) error
	// String names the layout in errors.
	String() string
}

// DefaultLayout is the DefaultPartitioner's: partition=<p>, the same p as in
// the file name.
type DefaultLayout struct{}

// CheckFolder accepts partition=<p> only.
func (DefaultLayout) CheckFolder(p int32, folder string) error {
	folderPart, ok := strings.CutPrefix(folder, partitionFolder)
	if !ok {
		return fmt.Errorf("folder %q is not the default partitioner's partition=<n> (objects of a field or time partitioner: give the export's --partitioner settings)", folder)
	}
	fp, err := parsePartition(folderPart)
	if err != nil {
		return fmt.Errorf("folder %q: partition %w", folder, err)
	}
	if fp != p {
		return fmt.Errorf("folder %q differs from partition %d in the file name", folder, p)
	}
	return nil
}

func (DefaultLayout) String() string { return "default partitioner: <topic>/partition=<p>/<file>" }

// parseName parses the file name <topic>+<p>+<offset><ext>. It anchors on the last two '+'
// like Confluent's filename.regex `(.+)\+(\d+)\+.+$`.
func parseName(key, name string) (Object, error) {
	parts := strings.Split(name, "+")
	if len(parts) < 3 {
		return Object{}, notObject(key, "file name %q is not <topic>+<partition>+<offset><ext> (missing '+')", name)
	}
	n := len(parts)
	o := Object{Topic: strings.Join(parts[:n-2], "+")}
	p, err := parsePartition(parts[n-2])
	if err != nil {
		return Object{}, notObject(key, "partition %q in the file name: %v", parts[n-2], err)
	}
	o.Partition = p

	tail := parts[n-1]
	digits := len(tail) - len(strings.TrimLeft(tail, "0123456789"))
	if digits == 0 || (digits < len(tail) && tail[digits] != '.') {
		return Object{}, notObject(key, "start offset in %q is not a number followed by an extension", tail)
	}
	if o.StartOffset, err = parseDigits(tail[:digits], 63); err != nil {
		return Object{}, notObject(key, "start offset %q: %v", tail[:digits], err)
	}
	ext := tail[digits:]
	for _, v := range []View{ViewKeys, ViewHeaders} {
		if after, ok := strings.CutPrefix(ext, v.infix()); ok && strings.HasPrefix(after, ".") {
			o.View, ext = v, after
			break
		}
	}
	o.Ext, o.Gzip = strings.CutSuffix(ext, ".gz")
	if len(o.Ext) < 2 {
		return Object{}, notObject(key, "no format extension after the start offset")
	}
	return o, nil
}

// parseDigits parses a non-empty run of ASCII digits that fits in bits bits; unlike strconv it
// refuses signs.
// parsePartition parses a partition number: decimal digits, below 2^31.
func parsePartition(s string) (int32, error) {
	p, err := parseDigits(s, 31)
	if err != nil {
		return 0, err
	}
	return int32(p), nil //nolint:gosec // G115: parseDigits(s, 31) is below 2^31
}

func parseDigits(s string, bits int) (int64, error) {
	if s == "" || strings.TrimLeft(s, "0123456789") != "" {
		return 0, errors.New("not a decimal number")
	}
	v, err := strconv.ParseInt(s, 10, bits+1)
	if err != nil {
		return 0, errors.New("out of range")
	}
	return v, nil
}

// notObject builds a Parse error that names the key and wraps ErrNotObject.
func notObject(key, format string, args ...any) error {
	return fmt.Errorf("object key %q: %s: %w", key, fmt.Sprintf(format, args...), ErrNotObject)
}

// ValidTopic checks Kafka's topic naming rule: 1 to 249 characters of [a-zA-Z0-9._-], and not "." or "..".
// Errors wrap ErrInvalidTopic.
func ValidTopic(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("topic name is empty: %w", ErrInvalidTopic)
	case name == "." || name == "..":
		return fmt.Errorf("topic name %q is not allowed: %w", name, ErrInvalidTopic)
	case len(name) > maxTopicLen:
		return fmt.Errorf("topic name %q... is %d characters long, more than %d: %w",
			name[:20], len(name), maxTopicLen, ErrInvalidTopic)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !validTopicByte(c) {
			r, _ := utf8.DecodeRuneInString(name[i:])
			return fmt.Errorf("topic name %q: character %q is not allowed (only a-z A-Z 0-9 . _ -): %w",
				name, r, ErrInvalidTopic)
		}
	}
	return nil
}

func validTopicByte(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-'
}

// SortObjects sorts objects by Topic, Partition, numeric StartOffset and View (values, keys, headers),
// then by Ext and Gzip so the order is total. Offsets compare as numbers, so keys whose offsets are wider
// than the pad still sort right.
func SortObjects(objs []Object) {
	slices.SortStableFunc(objs, func(a, b Object) int {
		return cmp.Or(
			strings.Compare(a.Topic, b.Topic),
			cmp.Compare(a.Partition, b.Partition),
			cmp.Compare(a.StartOffset, b.StartOffset),
			cmp.Compare(a.View, b.View),
			strings.Compare(a.Ext, b.Ext),
			compareBool(a.Gzip, b.Gzip),
		)
	})
}

func compareBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}
