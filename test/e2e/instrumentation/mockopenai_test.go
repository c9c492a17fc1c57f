package instrumentation

import (
	"bytes"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"testing"
)

// usage is what the mock server answers in a completion's usage block. Input includes the
// cached tokens and output includes the reasoning tokens, as OpenAI reports them.
type usage struct{ Input, Output, Cached, Reasoning int }

// The two turns of every agent run: the first answers with a tool call, the second (which carries
// the tool's result) with the final answer. Their usage differs, so a token charged to the wrong
// turn or agent shows.
var (
	toolCallUsage = usage{Input: 120, Output: 18, Cached: 32, Reasoning: 6}
	answerUsage   = usage{Input: 210, Output: 42, Cached: 96, Reasoning: 12}
)

// tally is what the mock server sent to one (agent, model): the ground truth the expected metrics
// are computed from.
type tally struct {
	ToolCalls, Answers, Failures int
	Usage                        usage // summed over the answered requests
}

type agentModel struct{ Agent, Model string }

// mockOpenAI is an OpenAI-compatible server on 127.0.0.1 with the chat completions and Responses
// APIs. The user message names its agent ("[agent:NAME]"), which the server reads only to keep
// its tally; a request containing "[fail:500]" is answered with HTTP 500.
type mockOpenAI struct {
	URL string // base URL, ending in /v1

	mu      sync.Mutex
	tallies map[agentModel]*tally
	bad     []string // requests the server could not make sense of
}

var (
	agentMarker = regexp.MustCompile(`\[agent:([A-Za-z0-9_.-]+)\]`)
	failMarker  = []byte(`[fail:500]`)
)

func startMockOpenAI(t *testing.T) *mockOpenAI {
	t.Helper()
	m := &mockOpenAI{tallies: map[agentModel]*tally{}}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("mock openai: %v", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/chat/completions", func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, chatAPI) })
	mux.HandleFunc("POST /v1/responses", func(w http.ResponseWriter, r *http.Request) { m.serve(w, r, responsesAPI) })
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		m.note(r.Method + " " + r.URL.Path)
		http.NotFound(w, r)
	})
	srv := &http.Server{Handler: mux}
	go func() { _ = srv.Serve(ln) }()
	t.Cleanup(func() { _ = srv.Close() })
	m.URL = "http://" + ln.Addr().String() + "/v1"
	return m
}

type api int

const (
	chatAPI api = iota
	responsesAPI
)

// request holds the fields of both APIs that the mock server reads.
type request struct {
	Model    string            `json:"model"`
	Messages []json.RawMessage `json:"messages"`
	Input    json.RawMessage   `json:"input"`
	Tools    []struct {
		Name     string `json:"name"` // Responses API
		Function struct {
			Name string `json:"name"`
		} `json:"function"` // chat completions
	} `json:"tools"`
	Stream bool `json:"stream"`
}

func (m *mockOpenAI) note(s string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.bad = append(m.bad, s)
}

func (m *mockOpenAI) serve(w http.ResponseWriter, r *http.Request, kind api) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var req request
	if err == nil {
		err = json.Unmarshal(body, &req)
	}
	mk := agentMarker.FindSubmatch(body)
	if err != nil || mk == nil || req.Stream {
		m.note(r.URL.Path + ": " + string(body))
		http.Error(w, `{"error":{"message":"mock: unexpected request"}}`, http.StatusBadRequest)
		return
	}
	key := agentModel{Agent: string(mk[1]), Model: req.Model}
	m.mu.Lock()
	tl := m.tallies[key]
	if tl == nil {
		tl = &tally{}
		m.tallies[key] = tl
	}
	m.mu.Unlock()

	if bytes.Contains(body, failMarker) {
		m.mu.Lock()
		tl.Failures++
		m.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = w.Write([]byte(`{"error":{"message":"mock: the server had an error","type":"server_error","code":null}}`))
		return
	}
	// The second turn carries the tool's result back.
	secondTurn := bytes.Contains(body, []byte(`"role":"tool"`)) || bytes.Contains(body, []byte(`"function_call_output"`))
	toolName := ""
	if len(req.Tools) > 0 { // one of the two is set, by API
		toolName = req.Tools[0].Name + req.Tools[0].Function.Name
	}
	callTool := !secondTurn && toolName != ""
	u := answerUsage
	if callTool {
		u = toolCallUsage
	}
	m.mu.Lock()
	if callTool {
		tl.ToolCalls++
	} else {
		tl.Answers++
	}
	n := tl.ToolCalls + tl.Answers
	tl.Usage.Input += u.Input
	tl.Usage.Output += u.Output
	tl.Usage.Cached += u.Cached
	tl.Usage.Reasoning += u.Reasoning
	m.mu.Unlock()

	id := key.Agent + "-" + strconv.Itoa(n)
	var resp any
	switch kind {
	case chatAPI:
		resp = chatResponse(id, req.Model, toolName, callTool, u)
	case responsesAPI:
		resp = responsesResponse(id, req.Model, toolName, callTool, u)
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(resp)
}

func chatResponse(id, model, tool string, callTool bool, u usage) map[string]any {
	msg := map[string]any{"role": "assistant", "content": "Order is shipped.", "refusal": nil}
	finish := "stop"
	if callTool {
		msg["content"] = nil
		msg["tool_calls"] = []any{map[string]any{
			"id": "call_" + id, "type": "function",
			"function": map[string]any{"name": tool, "arguments": `{"query":"order status"}`},
		}}
		finish = "tool_calls"
	}
	return map[string]any{
		"id": "chatcmpl-" + id, "object": "chat.completion", "created": 1764633600, "model": model,
		"system_fingerprint": "fp_mock",
		"choices":            []any{map[string]any{"index": 0, "message": msg, "finish_reason": finish, "logprobs": nil}},
		"usage": map[string]any{
			"prompt_tokens": u.Input, "completion_tokens": u.Output, "total_tokens": u.Input + u.Output,
			"prompt_tokens_details":     map[string]any{"cached_tokens": u.Cached, "audio_tokens": 0},
			"completion_tokens_details": map[string]any{"reasoning_tokens": u.Reasoning, "audio_tokens": 0},
		},
	}
}

func responsesResponse(id, model, tool string, callTool bool, u usage) map[string]any {
	var output []any
	text := ""
	if callTool {
		output = []any{map[string]any{
			"type": "function_call", "id": "fc_" + id, "call_id": "call_" + id, "name": tool,
			"arguments": `{"query":"order status"}`, "status": "completed",
		}}
	} else {
		text = "Order is shipped."
		output = []any{map[string]any{
			"type": "message", "id": "msg_" + id, "role": "assistant", "status": "completed",
			"content": []any{map[string]any{"type": "output_text", "text": text, "annotations": []any{}}},
		}}
	}
	return map[string]any{
		"id": "resp_" + id, "object": "response", "created_at": 1764633600, "status": "completed",
		"model": model, "output": output, "output_text": text, "parallel_tool_calls": true,
		"tool_choice": "auto", "tools": []any{}, "error": nil, "incomplete_details": nil,
		"usage": map[string]any{
			"input_tokens": u.Input, "output_tokens": u.Output, "total_tokens": u.Input + u.Output,
			"input_tokens_details":  map[string]any{"cached_tokens": u.Cached},
			"output_tokens_details": map[string]any{"reasoning_tokens": u.Reasoning},
		},
	}
}

// Tallies is a copy of what the server sent, by (agent, model).
func (m *mockOpenAI) Tallies() map[agentModel]tally {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := make(map[agentModel]tally, len(m.tallies))
	for k, v := range m.tallies {
		out[k] = *v
	}
	return out
}

// Unexpected lists the requests the server could not answer as an OpenAI API would.
func (m *mockOpenAI) Unexpected() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.bad...)
}
