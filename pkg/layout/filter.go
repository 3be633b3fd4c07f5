package layout

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
)

// ErrInvalidFilter means a file filter spec cannot be parsed.
var ErrInvalidFilter = errors.New("invalid file filter")

// FileFilters selects objects per source topic: "topic:regex,topic2:regex2", like the
// topic.regex.list setting of Confluent's S3 Source. An empty set admits everything.
// The zero value is the empty set.
type FileFilters struct {
	byTopic map[string][]*regexp.Regexp
}

// ParseFileFilters parses a comma-separated list of "topic:regex" entries. Each entry is split on its
// first ':' so the regex may contain ':'; commas inside a regex are not supported because ',' separates
// entries. Blanks around entries and topics are ignored. Regexes use Go's RE2 syntax and must match the
// whole string (see Admits). Several entries for one topic are ORed. An empty or blank spec gives the
// empty set. Errors name the bad entry and wrap ErrInvalidFilter.
func ParseFileFilters(spec string) (FileFilters, error) {
	var f FileFilters
	if strings.TrimSpace(spec) == "" {
		return f, nil
	}
	f.byTopic = make(map[string][]*regexp.Regexp)
	for i, entry := range strings.Split(spec, ",") {
		entry = strings.TrimSpace(entry)
		if entry == "" {
			return FileFilters{}, fmt.Errorf("file filter entry %d is empty: %w", i+1, ErrInvalidFilter)
		}
		topic, expr, ok := strings.Cut(entry, ":")
		if !ok {
			return FileFilters{}, fmt.Errorf("file filter %q: no ':' between topic and regex "+
				"(want topic:regex; commas inside a regex are not supported): %w", entry, ErrInvalidFilter)
		}
		topic = strings.TrimSpace(topic)
		if err := ValidTopic(topic); err != nil {
			return FileFilters{}, fmt.Errorf("file filter %q: %w: %w", entry, err, ErrInvalidFilter)
		}
		if expr == "" {
			return FileFilters{}, fmt.Errorf("file filter %q: empty regex: %w", entry, ErrInvalidFilter)
		}
		re, err := compileWhole(expr)
		if err != nil {
			return FileFilters{}, fmt.Errorf("file filter %q: %w: %w", entry, err, ErrInvalidFilter)
		}
		f.byTopic[topic] = append(f.byTopic[topic], re)
	}
	return f, nil
}

// compileWhole compiles expr so that it only matches a whole string, like Java's Matcher.matches.
// expr is compiled alone first: an unbalanced expr such as "a)|(b" would otherwise escape the anchors.
func compileWhole(expr string) (*regexp.Regexp, error) {
	if _, err := regexp.Compile(expr); err != nil {
		return nil, err
	}
	return regexp.Compile(`\A(?:` + expr + `)\z`)
}

// Empty reports whether the set has no entries and so admits every object.
func (f FileFilters) Empty() bool {
	return len(f.byTopic) == 0
}

// Topics returns the topics that have entries, sorted and without duplicates.
func (f FileFilters) Topics() []string {
	return slices.Sorted(maps.Keys(f.byTopic))
}

// Admits reports whether the object key of a source topic passes the filters. An empty set admits
// everything; otherwise the topic must be listed and one of its regexes must match the whole object key
// or the whole file name (the key's last path segment).
func (f FileFilters) Admits(topic, key string) bool {
	if f.Empty() {
		return true
	}
	name := key[strings.LastIndexByte(key, '/')+1:]
	for _, re := range f.byTopic[topic] {
		if re.MatchString(key) || re.MatchString(name) {
			return true
		}
	}
	return false
}
