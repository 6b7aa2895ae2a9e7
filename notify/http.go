package notify

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// post sends body to rawURL (filled, so it may hold a token) and judges the
// answer: 2xx is delivered; 408, 429 and 5xx are retried (honouring
// Retry-After); any other answer will not change by retrying. what names
// the target in errors without its URL.
func (n *Notifier) post(ctx context.Context, what, rawURL string, body []byte, header http.Header) error {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return permanent(fmt.Errorf("%s: the url is not an http:// or https:// URL", what))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, rawURL, bytes.NewReader(body))
	if err != nil {
		return permanent(fmt.Errorf("%s: %v", what, err))
	}
	for k, v := range header {
		req.Header[k] = v
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "honua-gitops")
	resp, err := n.client.Do(req)
	if err != nil {
		// url.Error quotes the URL, which may carry a token: keep the cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("%s: POST to %s: %v", what, u.Scheme+"://"+u.Host, err)
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 == 2 {
		return nil
	}
	err = fmt.Errorf("%s: %s answered %s: %s", what, u.Scheme+"://"+u.Host, resp.Status, oneLine(string(bytes.TrimSpace(snippet))))
	switch {
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout || resp.StatusCode >= 500:
		return &retryError{err: err, after: retryAfter(resp.Header.Get("Retry-After"))}
	}
	return permanent(err)
}

func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(v); err == nil && s > 0 {
		return time.Duration(s) * time.Second
	}
	return 0
}
