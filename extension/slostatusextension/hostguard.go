package slostatusextension // import "github.com/otelcol-amas/otelcol-amas/extension/slostatusextension"

import (
	"net"
	"net/http"
	"strconv"
	"strings"
)

// A page on a loopback port is not private: a web page the operator opens can make its own
// name resolve to 127.0.0.1 (DNS rebinding) and then read the API as same-origin. Such a request
// still carries the attacker's name in its Host header, so a loopback server answers only to its
// own loopback names (127.0.0.1, localhost, [::1]) with its port, plus allowed_hosts. A server on
// another address is reached by names the extension cannot know (a Service, a pod IP): it checks
// the Host header only when allowed_hosts is set.

// hostGuard decides which Host header values the server answers.
type hostGuard struct {
	off     bool            // no check: "*" in allowed_hosts, or a non-loopback bind without allowed_hosts
	exact   map[string]bool // lowercased host:port (or bare host for port 80/443 requests)
	anyPort map[string]bool // lowercased host names from allowed_hosts given without a port
}

// newHostGuard builds the guard of a server whose configured endpoint is endpoint and whose
// listener got port (the endpoint may say :0).
func newHostGuard(endpoint string, port int, allowed []string) *hostGuard {
	g := &hostGuard{exact: map[string]bool{}, anyPort: map[string]bool{}}
	bindHost, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		bindHost = endpoint
	}
	loopback := bindHost == "localhost" || isLoopbackIP(bindHost)
	if !loopback && len(allowed) == 0 {
		g.off = true
		return g
	}
	if loopback {
		p := strconv.Itoa(port)
		for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
			g.exact[h+":"+p] = true
			if port == 80 {
				g.exact[h] = true
			}
		}
	}
	for _, a := range allowed {
		a = strings.ToLower(a)
		switch {
		case a == "*":
			g.off = true
		case hasPort(a):
			g.exact[a] = true
		default:
			g.anyPort[strings.Trim(a, "[]")] = true
		}
	}
	return g
}

func isLoopbackIP(h string) bool {
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// hasPort reports whether a host pattern ends with :port ("[::1]:80" yes, "::1" no).
func hasPort(h string) bool {
	_, _, err := net.SplitHostPort(h)
	return err == nil
}

// allows reports whether a request's Host header is answered.
func (g *hostGuard) allows(host string) bool {
	if g.off {
		return true
	}
	host = strings.ToLower(host)
	if g.exact[host] {
		return true
	}
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	return g.anyPort[strings.Trim(name, "[]")]
}

// wrap refuses requests with a Host header the guard does not allow (403), before any handler.
func (g *hostGuard) wrap(next http.Handler) http.Handler {
	if g.off {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !g.allows(r.Host) {
			w.Header().Set("Cache-Control", "no-store")
			// The refused name is not echoed: it is attacker-controlled.
			writeJSON(w, http.StatusForbidden, errorDocument{SchemaVersion: SchemaVersion,
				Error: "Host header not allowed: this server answers to its loopback names and allowed_hosts only"})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// validHostPattern returns why an allowed_hosts entry is unusable, or "".
func validHostPattern(h string) string {
	switch {
	case h == "*":
		return ""
	case h == "":
		return "must not be empty"
	case strings.ContainsAny(h, "/ \t\r\n@?#"):
		return "must be a host or host:port, without scheme or path"
	}
	if hasPort(h) {
		_, p, _ := net.SplitHostPort(h)
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return "port must be in [1,65535]"
		}
	} else if strings.Count(h, ":") == 1 {
		return "must be a host or host:port"
	}
	return ""
}
