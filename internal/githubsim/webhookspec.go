package githubsim

import (
	"fmt"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// WebhookSpec is the loaded @octokit/openapi-webhooks description.
type WebhookSpec struct {
	doc      map[string]any
	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
}

const webhookSpecURL = "https://github.com/octokit/openapi-webhooks/api.github.com.json"

var (
	webhookSpecOnce sync.Once
	webhookSpec     *WebhookSpec
	webhookSpecErr  error
)

// LoadWebhookSpec loads the pinned webhook description once per process.
func LoadWebhookSpec() (*WebhookSpec, error) {
	webhookSpecOnce.Do(func() {
		p, err := WebhookSpecPath()
		if err != nil {
			webhookSpecErr = err
			return
		}
		raw, err := loadJSONDoc(p)
		if err != nil {
			webhookSpecErr = fmt.Errorf("loading %s: %w", p, err)
			return
		}
		doc, _ := raw.(map[string]any)
		// The description is OpenAPI 3.1, but converting is harmless and
		// keeps older drafts of it working.
		doc = convertOAS30(doc).(map[string]any)
		c := jsonschema.NewCompiler()
		c.DefaultDraft(jsonschema.Draft2020)
		c.AssertFormat()
		registerLenientFormats(c)
		if err := c.AddResource(webhookSpecURL, doc); err != nil {
			webhookSpecErr = err
			return
		}
		webhookSpec = &WebhookSpec{doc: doc, compiler: c, schemas: map[string]*jsonschema.Schema{}}
	})
	return webhookSpec, webhookSpecErr
}

// webhookKey is the description's name for an event and action, e.g.
// pull_request/opened -> pull-request-opened.
func webhookKey(event, action string) string {
	k := strings.ReplaceAll(event, "_", "-")
	if action != "" {
		k += "-" + strings.ReplaceAll(action, "_", "-")
	}
	return k
}

// HasEvent reports whether the description knows event/action.
func (w *WebhookSpec) HasEvent(event, action string) bool {
	hooks, _ := w.doc["webhooks"].(map[string]any)
	_, ok := hooks[webhookKey(event, action)]
	return ok
}

// CheckPayload validates one webhook body against its schema.
func (w *WebhookSpec) CheckPayload(event, action string, body []byte) []Violation {
	key := webhookKey(event, action)
	hooks, _ := w.doc["webhooks"].(map[string]any)
	if _, ok := hooks[key]; !ok && action != "" {
		// Events without actions (push) are named by the event alone.
		if _, ok := hooks[webhookKey(event, "")]; ok {
			key = webhookKey(event, "")
		}
	}
	v := Violation{Method: "WEBHOOK", Path: event + "." + action}
	if _, ok := hooks[key]; !ok {
		v.What = "event unknown to the webhook description"
		return []Violation{v}
	}
	w.mu.Lock()
	sch, ok := w.schemas[key]
	var err error
	if !ok {
		sch, err = w.compiler.Compile(webhookSpecURL + "#/webhooks/" + key + "/post/requestBody/content/application~1json/schema")
		if err == nil {
			w.schemas[key] = sch
		}
	}
	w.mu.Unlock()
	if err != nil {
		v.What = "compiling schema: " + err.Error()
		return []Violation{v}
	}
	inst, err := jsonschema.UnmarshalJSON(strings.NewReader(string(body)))
	if err != nil {
		v.What = "payload is not JSON: " + err.Error()
		return []Violation{v}
	}
	if err := sch.Validate(inst); err != nil {
		v.What = err.Error()
		return []Violation{v}
	}
	return nil
}
