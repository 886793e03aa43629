package demo

import (
	"net/http"
	"net/http/httptest"
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

// fakePhone is a Phone with one picture, for the media route.
type fakePhone struct {
	Phone
	channel string
}

func (p fakePhone) Info() PhoneInfo { return PhoneInfo{Channel: p.channel} }
func (p fakePhone) Media(id string) ([]byte, string, bool) {
	if id == "pic" {
		return testPNG, "", true
	}
	return nil, "", false
}

// textPhone has no pictures at all.
type textPhone struct{ Phone }

func (textPhone) Info() PhoneInfo { return PhoneInfo{Channel: "text"} }

func TestMediaRoute(t *testing.T) {
	s := &server{serverDeps: serverDeps{phones: []Phone{fakePhone{channel: "sms"}, textPhone{}}}}
	for _, tc := range []struct {
		name, channel, id string
		status            int
		contentType       string
	}{
		{"picture", "sms", "pic", http.StatusOK, "image/png"},
		{"unknown picture", "sms", "nope", http.StatusNotFound, "application/json"},
		{"phone without media", "text", "pic", http.StatusNotFound, "application/json"},
		{"unknown phone", "fax", "pic", http.StatusNotFound, "application/json"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/demo/api/phones/"+tc.channel+"/media/"+tc.id, nil)
			req.SetPathValue("channel", tc.channel)
			req.SetPathValue("id", tc.id)
			rec := httptest.NewRecorder()
			s.media(rec, req)
			if rec.Code != tc.status || rec.Header().Get("Content-Type") != tc.contentType {
				t.Fatalf("status %d, Content-Type %q; want %d, %q", rec.Code, rec.Header().Get("Content-Type"), tc.status, tc.contentType)
			}
			if tc.status == http.StatusOK && rec.Body.String() != string(testPNG) {
				t.Errorf("body is %d bytes, want the PNG", rec.Body.Len())
			}
		})
	}
}
