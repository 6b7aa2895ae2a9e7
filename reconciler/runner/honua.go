package runner

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/honua-io/honua-gitops/reconciler/apply"
)

// HonuaClient is the Honua server over HTTP (HONUA.md): reload, readiness
// and collections.
type HonuaClient struct {
	// BaseURL is the server's root ("http://127.0.0.1:8080").
	BaseURL string
	// AdminToken is the admin bearer token of /admin/ requests; never
	// logged, never sent to GitHub.
	AdminToken string
	// HTTP is the client (http.DefaultClient when nil).
	HTTP *http.Client
}

var (
	_ apply.Honua = (*HonuaClient)(nil)
	_ Validator   = (*HonuaClient)(nil)
)

// Validator is a Honua that can check a document without loading it.
type Validator interface {
	// Validate checks doc as the server would on reload; an error says why
	// it would refuse it. A server without the endpoint accepts.
	Validate(ctx context.Context, doc []byte) error
}

// Validate posts doc to POST /admin/metadata/validate. A 404 (a server
// without the endpoint) is not a refusal.
func (h *HonuaClient) Validate(ctx context.Context, doc []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, strings.TrimSuffix(h.BaseURL, "/")+"/admin/metadata/validate", bytes.NewReader(doc))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if h.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+h.AdminToken)
	}
	c := h.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("POST /admin/metadata/validate: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return nil
	case resp.StatusCode/100 != 2:
		return fmt.Errorf("%s: %s", resp.Status, oneLine(string(body)))
	}
	return nil
}

// Reload asks Honua to reload its metadata document.
func (h *HonuaClient) Reload(ctx context.Context) error {
	return h.do(ctx, http.MethodPost, "/admin/metadata/reload", true)
}

// Ready reports whether Honua is ready.
func (h *HonuaClient) Ready(ctx context.Context) error {
	return h.do(ctx, http.MethodGet, "/healthz/ready", false)
}

// Collection reports whether the OGC collection id serves, with items.
func (h *HonuaClient) Collection(ctx context.Context, id string) error {
	p := "/ogc/collections/" + url.PathEscape(id)
	if err := h.do(ctx, http.MethodGet, p, false); err != nil {
		return err
	}
	return h.do(ctx, http.MethodGet, p+"/items?limit=1", false)
}

func (h *HonuaClient) do(ctx context.Context, method, path string, admin bool) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(h.BaseURL, "/")+path, nil)
	if err != nil {
		return err
	}
	if admin && h.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+h.AdminToken)
	}
	c := h.HTTP
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, oneLine(string(body)))
	}
	return nil
}

// oneLine keeps the start of a server's answer for a message, on one line.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
