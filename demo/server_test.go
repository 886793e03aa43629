package demo

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

func TestSumMetrics(t *testing.T) {
	data, err := os.ReadFile("testdata/metrics.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		input string
		want  []Metric
	}{
		{"empty", "", []Metric{}},
		{"other namespaces only", "go_goroutines 3\nprocess_open_fds 9\n", []Metric{}},
		{"scrape", string(data), []Metric{
			{"leconnect_item_latency_seconds_count", 5},
			{"leconnect_item_latency_seconds_sum", 0.5},
			{"leconnect_messages_in_total", 15},
			{"leconnect_odd_label_total", 2},
			{"leconnect_queue_depth", 7},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := sumMetrics(strings.NewReader(tc.input))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("sumMetrics = %v, want %v", got, tc.want)
			}
		})
	}
}
