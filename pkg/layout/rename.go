package layout

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// ErrInvalidRename means a rename rule cannot be parsed.
var ErrInvalidRename = errors.New("invalid rename rule")

// Rename is one REGEX=REPLACEMENT rule with Kafka Connect RegexRouter semantics: the regex must match
// the whole topic (Java's Matcher.matches) and the replacement uses the syntax of Java's
// Matcher.replaceAll. The regex itself is Go RE2 syntax.
//
// Replacement syntax, as in Java:
//   - $n refers to group n. The first digit is always part of the number; further digits are taken
//     while the number stays a group of the regex, so with one group "$10" is group 1 then "0", and
//     with ten or more groups it is group 10. To put a literal digit after a group, escape it: "$1\0".
//   - ${name} refers to a named group, (?P<name>...) or (?<name>...). As in Java a name is ASCII
//     letters and digits starting with a letter, so "${1}" is an error: write "$1".
//   - \x is a literal x, so "\$" is a dollar and "\\" a backslash.
//   - A group that took no part in the match expands to "".
type Rename struct {
	spec  string
	re    *regexp.Regexp
	parts []replPart
}

// replPart is a literal (group < 0) or a group reference of a parsed replacement.
type replPart struct {
	lit   string
	group int
}

// ParseRename parses "REGEX=REPLACEMENT". The spec is split on the first '=' that is not escaped by
// a backslash (an odd number of backslashes before it), so a regex can hold a literal '=' as "\=";
// the replacement may contain '='. Errors name the spec and wrap ErrInvalidRename: no '=', an empty or
// invalid regex, an empty replacement, a reference to a group the regex does not have, or a replacement
// ending in a lone '$' or '\'.
func ParseRename(spec string) (Rename, error) {
	i := unescapedEquals(spec)
	if i < 0 {
		return Rename{}, fmt.Errorf("rename %q: no '=' between regex and replacement: %w", spec, ErrInvalidRename)
	}
	expr, repl := spec[:i], spec[i+1:]
	if expr == "" {
		return Rename{}, fmt.Errorf("rename %q: empty regex: %w", spec, ErrInvalidRename)
	}
	if repl == "" {
		return Rename{}, fmt.Errorf("rename %q: empty replacement: %w", spec, ErrInvalidRename)
	}
	re, err := compileWhole(expr)
	if err != nil {
		return Rename{}, fmt.Errorf("rename %q: %w: %w", spec, err, ErrInvalidRename)
	}
	parts, err := parseReplacement(re, repl)
	if err != nil {
		return Rename{}, fmt.Errorf("rename %q: replacement %q: %w: %w", spec, repl, err, ErrInvalidRename)
	}
	return Rename{spec: spec, re: re, parts: parts}, nil
}

// unescapedEquals returns the index of the first '=' preceded by an even number of backslashes, or -1.
func unescapedEquals(s string) int {
	backslashes := 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			backslashes++
			continue
		case '=':
			if backslashes%2 == 0 {
				return i
			}
		}
		backslashes = 0
	}
	return -1
}

// parseReplacement translates a Java replacement string, following Matcher.appendExpandedReplacement
// of Java 9+, and checks every group reference against re up front (Java would throw at match time).
func parseReplacement(re *regexp.Regexp, repl string) ([]replPart, error) {
	var parts []replPart
	var lit strings.Builder
	flush := func() {
		if lit.Len() > 0 {
			parts = append(parts, replPart{lit: lit.String(), group: -1})
			lit.Reset()
		}
	}
	groups := re.NumSubexp()
	for i := 0; i < len(repl); {
		switch c := repl[i]; c {
		case '\\':
			i++
			if i == len(repl) {
				return nil, errors.New(`ends with a lone '\' (character to be escaped is missing)`)
			}
			_, size := utf8.DecodeRuneInString(repl[i:])
			lit.WriteString(repl[i : i+size])
			i += size
		case '$':
			i++
			if i == len(repl) {
				return nil, errors.New(`ends with a lone '$' (group index is missing; write \$ for a dollar)`)
			}
			var group int
			var err error
			if repl[i] == '{' {
				group, i, err = namedGroup(re, repl, i+1)
			} else {
				group, i, err = numberedGroup(groups, repl, i)
			}
			if err != nil {
				return nil, err
			}
			flush()
			parts = append(parts, replPart{group: group})
		default:
			lit.WriteByte(c)
			i++
		}
	}
	flush()
	return parts, nil
}

// numberedGroup reads the digits of "$n" starting at i, the way Java does: the first digit always,
// then more digits while the number is still a group of the regex.
func numberedGroup(groups int, repl string, i int) (group, next int, err error) {
	if !isDigit(repl[i]) {
		return 0, 0, fmt.Errorf("illegal group reference at %q: '$' must be followed by a digit or {name} "+
			`(write \$ for a dollar)`, repl[i-1:])
	}
	group = int(repl[i] - '0')
	i++
	for i < len(repl) && isDigit(repl[i]) {
		n := group*10 + int(repl[i]-'0')
		if n > groups {
			break
		}
		group = n
		i++
	}
	if group > groups {
		return 0, 0, fmt.Errorf("no group %d: the regex has %d groups", group, groups)
	}
	return group, i, nil
}

// namedGroup reads the name of "${name}" starting at i, just after the '{'.
func namedGroup(re *regexp.Regexp, repl string, i int) (group, next int, err error) {
	start := i
	for i < len(repl) && (isDigit(repl[i]) || 'a' <= repl[i] && repl[i] <= 'z' || 'A' <= repl[i] && repl[i] <= 'Z') {
		i++
	}
	name := repl[start:i]
	switch {
	case name == "" && (i == len(repl) || repl[i] != '}'):
		return 0, 0, errors.New("named group reference '${' has no name (names are ASCII letters and digits)")
	case name == "":
		return 0, 0, errors.New("named group reference '${}' has an empty name")
	case i == len(repl) || repl[i] != '}':
		return 0, 0, fmt.Errorf("named group reference ${%s is missing its trailing '}' (names are ASCII letters and digits)", name)
	case isDigit(name[0]):
		return 0, 0, fmt.Errorf("group name {%s} starts with a digit: write $%s for a numbered group "+
			`(escape a literal digit after it, as in $1\0)`, name, name)
	}
	group = re.SubexpIndex(name)
	if group < 0 {
		return 0, 0, fmt.Errorf("no group with name {%s}", name)
	}
	return group, i + 1, nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// Apply renames topic. It returns the topic unchanged and false when the regex does not match the
// whole topic.
func (r Rename) Apply(topic string) (string, bool) {
	if r.re == nil {
		return topic, false
	}
	m := r.re.FindStringSubmatchIndex(topic)
	if m == nil {
		return topic, false
	}
	var b strings.Builder
	for _, p := range r.parts {
		if p.group < 0 {
			b.WriteString(p.lit)
		} else if start, end := m[2*p.group], m[2*p.group+1]; start >= 0 {
			b.WriteString(topic[start:end])
		}
	}
	return b.String(), true
}

// String returns the rule as it was parsed, "REGEX=REPLACEMENT".
func (r Rename) String() string {
	return r.spec
}

// Renames is an ordered list of rename rules; the first rule whose regex matches a topic wins.
type Renames []Rename

// ParseRenames parses each spec with ParseRename, keeping their order.
func ParseRenames(specs []string) (Renames, error) {
	var rs Renames
	for _, spec := range specs {
		r, err := ParseRename(spec)
		if err != nil {
			return nil, err
		}
		rs = append(rs, r)
	}
	return rs, nil
}

// Apply returns the topic renamed by the first rule that matches it, or the topic unchanged when no
// rule matches. It does not validate the result; see Target.
func (rs Renames) Apply(topic string) string {
	out, _ := rs.apply(topic)
	return out
}

// Target returns the topic renamed like Apply does and checks it with ValidTopic, so a rule that
// produces an illegal Kafka topic name is an error naming the topic and the rule.
func (rs Renames) Target(topic string) (string, error) {
	out, rule := rs.apply(topic)
	if err := ValidTopic(out); err != nil {
		if rule < 0 {
			return "", fmt.Errorf("topic %q: %w", topic, err)
		}
		return "", fmt.Errorf("rename topic %q with %q: %w", topic, rs[rule].String(), err)
	}
	return out, nil
}

// apply returns the renamed topic and the index of the rule that matched, or -1.
func (rs Renames) apply(topic string) (string, int) {
	for i, r := range rs {
		if out, ok := r.Apply(topic); ok {
			return out, i
		}
	}
	return topic, -1
}

var _ fmt.Stringer = Rename{}
