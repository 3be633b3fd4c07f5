package schemareg

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/twmb/franz-go/pkg/sr"

	"github.com/kferry/kferry/internal/kafka/kafkatest"
	"github.com/kferry/kferry/pkg/layout"
)

const schema = `{"type":"record","name":"A","fields":[{"name":"x","type":"long"}]}`

// counting makes reg count the requests it answers and fail the first
// `fail` of them with status.
func counting(reg *kafkatest.Registry, fail int32, status int) *atomic.Int32 {
	var n atomic.Int32
	reg.Intercept(func(w http.ResponseWriter, _ *http.Request) bool {
		if n.Add(1) <= fail {
			w.WriteHeader(status)
			_, _ = w.Write([]byte(`{"error_code":50001,"message":"try later"}`)) // the client reads what it can
			return true
		}
		return false
	})
	return &n
}

// TestSchemaByID: a schema is read once and then served from the cache; a
// 503 is retried; an unknown id is ErrUnknownSchema, not retried.
func TestSchemaByID(t *testing.T) {
	reg := kafkatest.NewRegistry(t, "", "")
	id := reg.Register(t, "a-value", schema)
	n := counting(reg, 2, http.StatusServiceUnavailable)
	cl, err := New(Config{URL: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		s, err := cl.SchemaByID(context.Background(), id)
		if err != nil || s.Text != schema || s.Type != "AVRO" {
			t.Fatalf("SchemaByID: %+v, %v", s, err)
		}
	}
	if got := n.Load(); got != 3 {
		t.Errorf("%d requests, want 3 (two 503s retried, then the cache)", got)
	}
	_, err = cl.SchemaByID(context.Background(), 999)
	if !errors.Is(err, ErrUnknownSchema) || n.Load() != 4 {
		t.Errorf("unknown id: %v after %d requests; want ErrUnknownSchema after one more", err, n.Load())
	}
}

// TestRegister: a schema registers under the subject of the (renamed)
// topic, once; the same schema keeps its id.
func TestRegister(t *testing.T) {
	reg := kafkatest.NewRegistry(t, "", "")
	reg.Register(t, "other-value", `"string"`)
	cl, err := New(Config{URL: reg.URL()})
	if err != nil {
		t.Fatal(err)
	}
	cl.Subject = func(topic string, view layout.View) string { return TopicNameStrategy(topic+"-copy", view) }
	id, err := cl.Register(context.Background(), "orders", layout.ViewValues, schema)
	if err != nil || id != 2 {
		t.Fatalf("Register: %d, %v; want id 2", id, err)
	}
	if got, text, ok := reg.Version("orders-copy-value", 1); !ok || got != id || text != schema {
		t.Errorf("orders-copy-value v1: %d %q %v", got, text, ok)
	}
	kid, err := cl.Register(context.Background(), "orders", layout.ViewKeys, schema)
	if err != nil || kid != id {
		t.Errorf("same schema under orders-copy-key: %d, %v; want id %d", kid, err, id)
	}
	if _, _, ok := reg.Version("orders-copy-key", 1); !ok {
		t.Error("orders-copy-key not registered")
	}
}

// TestCredentials: credentials in the URL become basic auth and never show
// in errors; a refusal (403) is not retried.
func TestCredentials(t *testing.T) {
	reg := kafkatest.NewRegistry(t, "bob", "pa55word")
	id := reg.Register(t, "a-value", schema)
	withCreds := strings.Replace(reg.URL(), "http://", "http://bob:pa55word@", 1)
	cl, err := New(Config{URL: withCreds})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.SchemaByID(context.Background(), id); err != nil {
		t.Fatalf("with credentials in the URL: %v", err)
	}
	bad, _ := New(Config{URL: strings.Replace(withCreds, "pa55word", "nope-secret", 1)})
	_, err = bad.SchemaByID(context.Background(), id)
	if err == nil || strings.Contains(err.Error(), "nope-secret") || strings.Contains(err.Error(), "bob:") {
		t.Errorf("wrong password: %v (want an error without the credentials)", err)
	}
	if _, err := New(Config{URL: "ftp://x"}); !errors.Is(err, ErrConfig) {
		t.Errorf("ftp URL: %v, want ErrConfig", err)
	}
	if _, err := New(Config{URL: "http://x", User: "u", Token: "t"}); !errors.Is(err, ErrConfig) {
		t.Errorf("user and token: %v, want ErrConfig", err)
	}
}

// TestRetriable: which answers are tried again.
func TestRetriable(t *testing.T) {
	for status, want := range map[int]bool{401: false, 403: false, 404: false, 409: false, 422: false, 408: true, 429: true, 500: true, 503: true} {
		if got := retriable(&sr.ResponseError{StatusCode: status}); got != want {
			t.Errorf("status %d: retriable %v, want %v", status, got, want)
		}
	}
	if retriable(errors.New("x509: certificate signed by unknown authority")) {
		t.Error("a certificate error is retried")
	}
}
