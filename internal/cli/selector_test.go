package cli

import (
	"errors"
	"testing"
)

func TestSelectorRegexMatchesWholeNames(t *testing.T) {
	sel, err := (&selectFlags{regex: `source-topic-\d`}).selector()
	if err != nil {
		t.Fatal(err)
	}
	for topic, want := range map[string]bool{"source-topic-1": true, "source-topic-12": false, "x-source-topic-1": false} {
		if got := sel.Matches(topic); got != want {
			t.Errorf("Matches(%q) = %v, want %v", topic, got, want)
		}
	}
	// Checked on its own before anchoring: wrapped in (?:...) it would compile.
	if _, err := (&selectFlags{regex: `a)|(b`}).selector(); !errors.Is(err, ErrUsage) {
		t.Errorf("unbalanced regex: err = %v, want a usage error", err)
	}
	if sel, err := (&selectFlags{}).selector(); err != nil || sel.Regex != nil {
		t.Errorf("empty regex: %v, %v", sel.Regex, err)
	}
}
