package layout

import (
	"errors"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseFileFilters(t *testing.T) {
	tests := []struct {
		name       string
		spec       string
		wantTopics []string
		wantErr    string // a fragment of the error message; "" means no error
	}{
		{"empty", "", nil, ""},
		{"blank", "  ", nil, ""},
		{"one", "orders:.*\\.json", []string{"orders"}, ""},
		{"two sorted", "payments:.*,orders:.*", []string{"orders", "payments"}, ""},
		{"same topic twice", "orders:a.*,orders:b.*", []string{"orders"}, ""},
		{"blanks around entries", " orders : .*\\.json , payments:.*", []string{"orders", "payments"}, ""},
		{"colon in regex", "orders:a:b", []string{"orders"}, ""},
		{"no colon", "orders", nil, `"orders": no ':'`},
		{"comma in regex", "orders:a{1,2}", nil, "commas inside a regex are not supported"},
		{"empty entry", "orders:.*,,payments:.*", nil, "entry 2 is empty"},
		{"trailing comma", "orders:.*,", nil, "entry 2 is empty"},
		{"empty regex", "orders:", nil, `"orders:": empty regex`},
		{"bad regex", "orders:a(", nil, `"orders:a("`},
		{"unbalanced regex cannot escape anchors", "orders:a)|(b", nil, `"orders:a)|(b"`},
		{"bad topic", "a b:.*", nil, `"a b:.*"`},
		{"empty topic", ":.*", nil, "empty"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f, err := ParseFileFilters(tc.spec)
			if tc.wantErr != "" {
				if err == nil {
					t.Fatalf("ParseFileFilters(%q) succeeded, want error containing %q", tc.spec, tc.wantErr)
				}
				if !errors.Is(err, ErrInvalidFilter) {
					t.Errorf("error %v does not wrap ErrInvalidFilter", err)
				}
				if !strings.Contains(err.Error(), tc.wantErr) {
					t.Errorf("error %q does not contain %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseFileFilters(%q): %v", tc.spec, err)
			}
			if diff := cmp.Diff(tc.wantTopics, f.Topics()); diff != "" {
				t.Errorf("Topics() mismatch (-want +got):\n%s", diff)
			}
			if got, want := f.Empty(), len(tc.wantTopics) == 0; got != want {
				t.Errorf("Empty() = %v, want %v", got, want)
			}
		})
	}
}

func TestFileFiltersAdmits(t *testing.T) {
	const key = "topics/orders/partition=3/orders+3+0000000040.json"
	tests := []struct {
		name, spec, topic, key string
		want                   bool
	}{
		{"empty admits all", "", "anything", key, true},
		{"zero value admits all", "-", "anything", key, true},
		{"whole key", "orders:topics/orders/.*\\.json", "orders", key, true},
		{"whole file name", "orders:orders\\+3\\+.*\\.json", "orders", key, true},
		{"partial file name does not match", "orders:\\.json", "orders", key, false},
		{"partial key does not match", "orders:topics/orders", "orders", key, false},
		{"unlisted topic", "orders:.*", "payments", key, false},
		{"ored entries, second matches", "orders:.*\\.avro,orders:.*\\.json", "orders", key, true},
		{"ored entries, none matches", "orders:.*\\.avro,orders:.*\\.bin", "orders", key, false},
		{"alternation is anchored", "orders:x|.*\\.json", "orders", key, true},
		{"alternation anchored on both sides", "orders:x|orders", "orders", key, false},
		{"key without folder", "orders:o.*", "orders", "orders+3+0.json", true},
		{"case sensitive", "orders:.*\\.JSON", "orders", key, false},
		{"inline flags", "orders:(?i).*\\.JSON", "orders", key, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var f FileFilters
			if tc.spec != "-" {
				var err error
				if f, err = ParseFileFilters(tc.spec); err != nil {
					t.Fatal(err)
				}
			}
			if got := f.Admits(tc.topic, tc.key); got != tc.want {
				t.Errorf("Admits(%q, %q) with %q = %v, want %v", tc.topic, tc.key, tc.spec, got, tc.want)
			}
		})
	}
}
