package harness

import (
	"io"
	"net/http"
	"testing"
	"time"
)

// Eventually polls cond every interval until it returns true or timeout passes, then fails the
// test with the last reason cond gave. It is the only way the end-to-end tests wait: a deadline
// and a condition, never a bare sleep.
func Eventually(tb testing.TB, timeout, interval time.Duration, cond func() (ok bool, reason string)) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	var reason string
	for {
		var ok bool
		ok, reason = cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("harness: condition not met within %s: %s", timeout, reason)
		}
		time.Sleep(interval)
	}
}

// HTTPGet returns the status and body of a GET, or an error; a short timeout keeps polls moving.
func HTTPGet(url string) (int, string, error) {
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// waitHTTP200 waits until url answers 200, failing the test with the process log if it does not.
func waitHTTP200(tb testing.TB, p *Process, url string, timeout time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(timeout)
	for {
		code, _, err := HTTPGet(url)
		if err == nil && code == http.StatusOK {
			return
		}
		if p.Exited() {
			tb.Fatalf("harness: %s exited before %s answered; its output:\n%s", p.Name, url, p.Output())
		}
		if time.Now().After(deadline) {
			tb.Fatalf("harness: %s did not answer 200 on %s within %s (last: %d %v); its output:\n%s", p.Name, url, timeout, code, err, p.Output())
		}
		time.Sleep(100 * time.Millisecond)
	}
}
