// Package plan turns what the user selected and what the cluster or bucket holds
// into the list of partitions to move. It does no I/O, so every rule is a table test.
package plan

import (
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
)

// ErrUnknownTopic means a topic named with --topics does not exist.
var ErrUnknownTopic = errors.New("unknown topic")

// ErrNothingSelected means the selection matched no topic at all.
var ErrNothingSelected = errors.New("no topic selected")

// Selector is the user's topic choice: explicit names, a regex, or both (a topic
// is taken when either selects it). An empty Selector takes every topic.
type Selector struct {
	Names []string
	Regex *regexp.Regexp
}

// Empty reports whether the selector names nothing, which selects everything.
func (s Selector) Empty() bool { return len(s.Names) == 0 && s.Regex == nil }

// String describes the selection for messages.
func (s Selector) String() string {
	var parts []string
	if len(s.Names) > 0 {
		parts = append(parts, "--topics "+strings.Join(s.Names, ","))
	}
	if s.Regex != nil {
		parts = append(parts, "--topic-regex "+s.Regex.String())
	}
	if len(parts) == 0 {
		return "all topics"
	}
	return strings.Join(parts, " ")
}

// Matches reports whether the selector takes topic. Internal topics (those whose
// name starts with "__") are taken only when named explicitly.
func (s Selector) Matches(topic string) bool {
	for _, n := range s.Names {
		if n == topic {
			return true
		}
	}
	if strings.HasPrefix(topic, "__") {
		return false
	}
	if s.Regex != nil {
		return s.Regex.MatchString(topic)
	}
	return s.Empty()
}

// Select returns the sorted topics of available that s takes. Every explicitly
// named topic must exist; a selection that takes nothing is an error too, so a
// typo never turns into a silent no-op.
func Select(available []string, s Selector, where string) ([]string, error) {
	have := make(map[string]bool, len(available))
	for _, t := range available {
		have[t] = true
	}
	var missing []string
	for _, n := range s.Names {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("%w %s in %s; check the name (kferry ls / kafka-topics --list)", ErrUnknownTopic, strings.Join(missing, ", "), where)
	}
	var out []string
	for _, t := range available {
		if s.Matches(t) {
			out = append(out, t)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: %s matches no topic in %s", ErrNothingSelected, s, where)
	}
	sort.Strings(out)
	return out, nil
}
