// Command promql-check parses PromQL expressions with Prometheus' own parser
// (github.com/prometheus/prometheus/promql/parser), so the deploy tests can
// check every alert rule and dashboard query without a Prometheus server.
//
// Input on stdin: a JSON array of expressions. Output on stdout: a JSON
// array, one entry per expression, with the parse error (if any) and the
// metric names and label names the expression selects or groups by.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"sort"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"
)

type result struct {
	Expr    string   `json:"expr"`
	Error   string   `json:"error,omitempty"`
	Metrics []string `json:"metrics"`
	// Label names in matchers and in by(...)/without(...) clauses.
	Labels []string `json:"labels"`
}

func main() {
	var exprs []string
	if err := json.NewDecoder(os.Stdin).Decode(&exprs); err != nil {
		fmt.Fprintf(os.Stderr, "promql-check: input must be a JSON array of strings: %v\n", err)
		os.Exit(2)
	}
	p := parser.NewParser(parser.Options{})
	out := make([]result, 0, len(exprs))
	for _, text := range exprs {
		r := result{Expr: text, Metrics: []string{}, Labels: []string{}}
		expr, err := p.ParseExpr(text)
		if err != nil {
			r.Error = err.Error()
			out = append(out, r)
			continue
		}
		metrics, names := map[string]bool{}, map[string]bool{}
		parser.Inspect(expr, func(node parser.Node, _ []parser.Node) error {
			switch n := node.(type) {
			case *parser.VectorSelector:
				for _, m := range n.LabelMatchers {
					if m.Name == labels.MetricName {
						if m.Type == labels.MatchEqual {
							metrics[m.Value] = true
						}
						continue
					}
					names[m.Name] = true
				}
			case *parser.AggregateExpr:
				for _, g := range n.Grouping {
					names[g] = true
				}
			}
			return nil
		})
		r.Metrics, r.Labels = sorted(metrics), sorted(names)
		out = append(out, r)
	}
	if err := json.NewEncoder(os.Stdout).Encode(out); err != nil {
		fmt.Fprintf(os.Stderr, "promql-check: %v\n", err)
		os.Exit(1)
	}
}

func sorted(set map[string]bool) []string {
	list := make([]string, 0, len(set))
	for k := range set {
		list = append(list, k)
	}
	sort.Strings(list)
	return list
}
