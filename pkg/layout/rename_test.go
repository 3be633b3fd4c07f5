package layout

import (
	"errors"
	"strconv"
	"strings"
	"testing"
)

func TestRenameApply(t *testing.T) {
	tests := []struct {
		name, spec, topic string
		want              string
		wantOK            bool
	}{
		{"connect docs example", `source-topic-(\d)=sink-topic-$1`, "source-topic-1", "sink-topic-1", true},
		{"whole match group 0", `.*=$0`, "orders", "orders", true},
		{"prefix", `(.*)=restored.$1`, "orders", "restored.orders", true},
		{"$10 with one group is group 1 then 0", `(a)bc=$10`, "abc", "a0", true},
		{"$10 with ten groups is group 10",
			`(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)=$10`, "abcdefghij", "j", true},
		{"$11 with ten groups is group 1 then 1",
			`(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)=$11`, "abcdefghij", "a1", true},
		{"escaped digit after group with ten groups",
			`(a)(b)(c)(d)(e)(f)(g)(h)(i)(j)=$1\0`, "abcdefghij", "a0", true},
		{"$0 followed by digit", `ab=$01`, "ab", "ab1", true},
		{"named group P syntax", `(?P<env>\w+)-(?P<name>.*)=${name}.${env}`, "prod-orders", "orders.prod", true},
		{"named group angle syntax", `(?<env>\w+)-(?<name>.*)=${name}.${env}`, "prod-orders", "orders.prod", true},
		{"named group with digits", `(?P<g1>.*)=x${g1}`, "orders", "xorders", true},
		{"named group also by number", `(?P<env>\w+)-(.*)=$2`, "prod-orders", "orders", true},
		{"escaped dollar", `(.*)=\$$1`, "orders", "$orders", true},
		{"escaped backslash", `(.*)=\\$1`, "orders", `\orders`, true},
		{"escaped ordinary char", `(.*)=\a$1`, "orders", "aorders", true},
		{"escaped non-ascii rune", `(.*)=\é$1`, "x", "éx", true},
		{"unmatched group is empty", `(a)?b-(.*)=x$1y$2`, "b-c", "xyc", true},
		{"equals in replacement", `(.*)=a=$1`, "t", "a=t", true},
		{"escaped equals in regex", `a\=b=c`, "a=b", "c", true},
		{"escaped backslash before equals", `a\\=c`, `a\`, "c", true},
		{"no match", `source-(.*)=sink-$1`, "orders", "orders", false},
		{"partial match at start", `orders=x`, "orders-v2", "orders-v2", false},
		{"partial match at end", `v2=x`, "orders-v2", "orders-v2", false},
		{"alternation must match whole", `a|ab=x`, "ab", "x", true},
		{"alternation anchored", `x|orders=y`, "orders-v2", "orders-v2", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := ParseRename(tc.spec)
			if err != nil {
				t.Fatalf("ParseRename(%q): %v", tc.spec, err)
			}
			got, ok := r.Apply(tc.topic)
			if got != tc.want || ok != tc.wantOK {
				t.Errorf("%q.Apply(%q) = %q, %v; want %q, %v", tc.spec, tc.topic, got, ok, tc.want, tc.wantOK)
			}
			if r.String() != tc.spec {
				t.Errorf("String() = %q, want %q", r.String(), tc.spec)
			}
		})
	}
}

func TestParseRenameRejects(t *testing.T) {
	tests := []struct {
		name, spec string
		wantErr    string // a fragment of the error message
	}{
		{"no equals", `orders`, "no '='"},
		{"only escaped equals", `a\=b`, "no '='"},
		{"empty regex", `=x`, "empty regex"},
		{"empty replacement", `x=`, "empty replacement"},
		{"invalid regex", `a(=x`, "missing closing )"},
		{"unbalanced regex", `a)|(b=x`, "unexpected )"},
		{"missing group", `(a)=$2`, "no group 2: the regex has 1 groups"},
		{"missing group without groups", `a=$1`, "no group 1"},
		{"missing named group", `(?P<a>x)=${b}`, "no group with name {b}"},
		{"digit group name", `(a)=${1}0`, "starts with a digit: write $1"},
		{"empty group name", `(a)=${}`, "empty name"},
		{"unterminated group name", `(?P<a>x)=${a`, "missing its trailing '}'"},
		{"underscore group name", `(?P<a_b>x)=${a_b}`, "missing its trailing '}'"},
		{"brace without name", `(a)=${`, "has no name"},
		{"lone dollar", `(a)=x$`, "lone '$'"},
		{"lone backslash", `(a)=x\`, `lone '\'`},
		{"dollar before letter", `(a)=$x`, "illegal group reference"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseRename(tc.spec)
			if err == nil {
				t.Fatalf("ParseRename(%q) succeeded, want error containing %q", tc.spec, tc.wantErr)
			}
			if !errors.Is(err, ErrInvalidRename) {
				t.Errorf("error %v does not wrap ErrInvalidRename", err)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("error %q does not contain %q", err, tc.wantErr)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tc.spec)) {
				t.Errorf("error %q does not name the spec %q", err, tc.spec)
			}
		})
	}
}

func TestRenames(t *testing.T) {
	rs, err := ParseRenames([]string{
		`orders=orders-restored`,
		`(.*)-v1=$1`,
		`(.*)=copy.$1`,
	})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct{ topic, want string }{
		{"orders", "orders-restored"}, // first rule wins over the catch-all
		{"payments-v1", "payments"},
		{"payments", "copy.payments"},
	}
	for _, tc := range tests {
		t.Run(tc.topic, func(t *testing.T) {
			if got := rs.Apply(tc.topic); got != tc.want {
				t.Errorf("Apply(%q) = %q, want %q", tc.topic, got, tc.want)
			}
			got, err := rs.Target(tc.topic)
			if err != nil || got != tc.want {
				t.Errorf("Target(%q) = %q, %v; want %q", tc.topic, got, err, tc.want)
			}
		})
	}
}

func TestRenamesNoRules(t *testing.T) {
	var rs Renames
	if got := rs.Apply("orders"); got != "orders" {
		t.Errorf("Apply = %q, want unchanged", got)
	}
	rs, err := ParseRenames([]string{`x=y`})
	if err != nil {
		t.Fatal(err)
	}
	if got := rs.Apply("orders"); got != "orders" {
		t.Errorf("Apply = %q, want unchanged", got)
	}
	if got, err := rs.Target("orders"); err != nil || got != "orders" {
		t.Errorf("Target = %q, %v; want orders unchanged", got, err)
	}
}

func TestRenamesTargetInvalid(t *testing.T) {
	tests := []struct {
		name, spec, topic string
	}{
		{"illegal character", `(.*)=$1:backup`, "orders"},
		{"dollar", `(.*)=\$$1`, "orders"},
		{"unmatched group gives empty", `(a)?(.*)=$1`, "orders"},
		{"dot", `.*=.`, "orders"},
		{"too long", `(.*)=$1$1$1$1$1$1$1$1$1$1`, strings.Repeat("x", 25)},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rs, err := ParseRenames([]string{tc.spec})
			if err != nil {
				t.Fatal(err)
			}
			got, err := rs.Target(tc.topic)
			if err == nil {
				t.Fatalf("Target(%q) = %q, want error", tc.topic, got)
			}
			if !errors.Is(err, ErrInvalidTopic) {
				t.Errorf("error %v does not wrap ErrInvalidTopic", err)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tc.spec)) || !strings.Contains(err.Error(), strconv.Quote(tc.topic)) {
				t.Errorf("error %q does not name the rule and the topic", err)
			}
		})
	}
}

func TestParseRenamesError(t *testing.T) {
	_, err := ParseRenames([]string{`a=b`, `bad`})
	if !errors.Is(err, ErrInvalidRename) || !strings.Contains(err.Error(), `"bad"`) {
		t.Errorf("ParseRenames error = %v, want ErrInvalidRename naming \"bad\"", err)
	}
}

func TestZeroRename(t *testing.T) {
	var r Rename
	if got, ok := r.Apply("orders"); ok || got != "orders" {
		t.Errorf("zero Rename.Apply = %q, %v; want orders, false", got, ok)
	}
}

func TestRenamesTargetUnmatchedInvalid(t *testing.T) {
	var rs Renames
	if _, err := rs.Target("a b"); !errors.Is(err, ErrInvalidTopic) || !strings.Contains(err.Error(), `"a b"`) {
		t.Errorf("Target error = %v, want ErrInvalidTopic naming the topic", err)
	}
}
