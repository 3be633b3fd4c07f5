// Package monitoring holds kferry's Grafana dashboard and Prometheus alerting
// rules, and reads them back: their PromQL parsed, the metric names they use.
//
// The files are for operators (deploy/monitoring/*.json, *.yaml); this package
// exists so that tests can check them against what kferry serves on /metrics.
// The kferry binary does not link it.
package monitoring

import (
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// Dashboard and Alerts are the files' names in Files.
const (
	Dashboard = "kferry-dashboard.json"
	Alerts    = "kferry-alerts.yaml"
)

// Files holds the dashboard and the alerting rules.
//
//go:embed kferry-dashboard.json kferry-alerts.yaml
var Files embed.FS

// Query is one PromQL expression of the dashboard or the rules, and where it
// stands.
type Query struct {
	Where string // "alert KferryErrors", "panel Records/s exported", "variable job"
	Expr  string
}

// dashboard is the part of Grafana's dashboard model that holds queries.
type dashboard struct {
	Panels []struct {
		Title   string `json:"title"`
		Targets []struct {
			Expr string `json:"expr"`
		} `json:"targets"`
	} `json:"panels"`
	Templating struct {
		List []struct {
			Name  string `json:"name"`
			Type  string `json:"type"`
			Query any    `json:"query"`
		} `json:"list"`
	} `json:"templating"`
}

// Queries returns every PromQL expression of the dashboard's panels and the
// alerting rules. The rules are checked as Prometheus loads them (rulefmt:
// names, durations, templates, and each expression parsed).
func Queries() ([]Query, error) {
	var out []Query
	raw, err := Files.ReadFile(Alerts)
	if err != nil {
		return nil, err
	}
	groups, errs := rulefmt.Parse(raw, false, model.UTF8Validation, newParser(), slog.New(slog.DiscardHandler))
	if len(errs) > 0 {
		return nil, fmt.Errorf("%s: %w", Alerts, errors.Join(errs...))
	}
	for _, g := range groups.Groups {
		for _, r := range g.Rules {
			out = append(out, Query{Where: "alert " + r.Alert + r.Record, Expr: r.Expr})
		}
	}
	raw, err = Files.ReadFile(Dashboard)
	if err != nil {
		return nil, err
	}
	var d dashboard
	if err := json.Unmarshal(raw, &d); err != nil {
		return nil, fmt.Errorf("%s: %w", Dashboard, err)
	}
	for _, p := range d.Panels {
		for _, t := range p.Targets {
			out = append(out, Query{Where: "panel " + p.Title, Expr: grafanaMacros(t.Expr)})
		}
	}
	return out, nil
}

// grafanaMacros replaces what Grafana substitutes before Prometheus sees a
// query ($__rate_interval, the dashboard's variables) with values PromQL parses.
func grafanaMacros(expr string) string {
	r := []rune(expr)
	var out []rune
	for i := 0; i < len(r); i++ {
		if r[i] != '$' {
			out = append(out, r[i])
			continue
		}
		j := i + 1
		for j < len(r) && (r[j] == '_' || r[j] >= 'a' && r[j] <= 'z' || r[j] >= 'A' && r[j] <= 'Z') {
			j++
		}
		if string(r[i+1:j]) == "__rate_interval" {
			out = append(out, []rune("5m")...)
		} else {
			out = append(out, []rune("x")...) // a variable inside a label matcher
		}
		i = j - 1
	}
	return string(out)
}

func newParser() parser.Parser { return parser.NewParser(parser.Options{}) }

// MetricNames parses every query and returns the metric names they select,
// sorted, each once.
func MetricNames() ([]string, error) {
	qs, err := Queries()
	if err != nil {
		return nil, err
	}
	p := newParser()
	var names []string
	for _, q := range qs {
		e, err := p.ParseExpr(q.Expr)
		if err != nil {
			return nil, fmt.Errorf("%s: %q: %w", q.Where, q.Expr, err)
		}
		parser.Inspect(e, func(n parser.Node, _ []parser.Node) error {
			if vs, ok := n.(*parser.VectorSelector); ok && vs.Name != "" {
				names = append(names, vs.Name)
			}
			return nil
		})
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// Missing returns the names that no sample of a /metrics page (Prometheus text
// format) carries.
func Missing(names []string, page string) []string {
	served := map[string]bool{}
	for line := range strings.Lines(page) {
		if line == "" || line[0] == '#' {
			continue
		}
		if i := strings.IndexAny(line, "{ "); i > 0 {
			served[line[:i]] = true
		}
	}
	var out []string
	for _, n := range names {
		if !served[n] {
			out = append(out, n)
		}
	}
	return out
}
