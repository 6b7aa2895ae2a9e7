package githubsim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Pinned GitHub descriptions, fetched by scripts/fetch-github-specs.sh into
// .cache/github-specs/ at the module root.
const (
	RESTSpecPackage     = "@octokit/openapi@23.0.2"
	WebhookSpecPackage  = "@octokit/openapi-webhooks@12.1.0"
	WebhookExamplesPkg  = "@octokit/webhooks-examples@7.6.1"
	restSpecRelPath     = ".cache/github-specs/openapi-23.0.2/generated/api.github.com.json"
	webhookSpecRelPath  = ".cache/github-specs/openapi-webhooks-12.1.0/generated/api.github.com.json"
	webhookExamplesPath = ".cache/github-specs/webhooks-examples-7.6.1/api.github.com/index.json"
)

// SpecRootEnv names the environment variable that overrides where the
// .cache/github-specs directory is looked for.
const SpecRootEnv = "HONUA_GITOPS_SPEC_ROOT"

// ErrSpecMissing reports that the pinned spec files have not been fetched.
var ErrSpecMissing = errors.New("github specs not fetched: run `bash scripts/fetch-github-specs.sh` at the repo root")

// ModuleRoot walks up from dir to the directory holding go.mod.
func ModuleRoot(dir string) (string, error) {
	d, err := filepath.Abs(dir)
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		parent := filepath.Dir(d)
		if parent == d {
			return "", fmt.Errorf("no go.mod above %s", dir)
		}
		d = parent
	}
}

// SpecPath returns the absolute path of one of the cached spec files
// (rel is relative to the module root), or ErrSpecMissing.
func specPath(rel string) (string, error) {
	// HONUA_GITOPS_SPEC_ROOT replaces the module root as the place to look
	// (for binaries run outside the module, and to test a missing cache).
	if env := os.Getenv(SpecRootEnv); env != "" {
		p := filepath.Join(env, rel)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%w: %s", ErrSpecMissing, p)
		}
		return p, nil
	}
	wd, err := os.Getwd()
	if err != nil {
		return "", err
	}
	root, err := ModuleRoot(wd)
	if err != nil {
		return "", fmt.Errorf("%w (%v)", ErrSpecMissing, err)
	}
	p := filepath.Join(root, rel)
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("%w: %s", ErrSpecMissing, p)
	}
	return p, nil
}

// RESTSpecPath is the path of the cached @octokit/openapi REST description.
func RESTSpecPath() (string, error) { return specPath(restSpecRelPath) }

// WebhookSpecPath is the path of the cached @octokit/openapi-webhooks description.
func WebhookSpecPath() (string, error) { return specPath(webhookSpecRelPath) }

// WebhookExamplesPath is the path of the cached @octokit/webhooks-examples index.
func WebhookExamplesPath() (string, error) { return specPath(webhookExamplesPath) }

// loadJSONDoc decodes a JSON document with numbers kept as json.Number, as
// the schema validator expects.
func loadJSONDoc(path string) (any, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return jsonschema.UnmarshalJSON(f)
}

// convertOAS30 rewrites OpenAPI 3.0 schema dialect in place so that a JSON
// Schema 2020-12 validator gives it the meaning OpenAPI 3.0 does:
// `nullable: true` admits null (a type union, or an anyOf when the schema has
// no type of its own, as with allOf/$ref wrappers).
func convertOAS30(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			x[k] = convertOAS30(val)
		}
		if n, ok := x["nullable"].(bool); ok {
			delete(x, "nullable")
			if !n {
				return x
			}
			if enum, ok := x["enum"].([]any); ok {
				has := false
				for _, e := range enum {
					if e == nil {
						has = true
					}
				}
				if !has {
					x["enum"] = append(enum, nil)
				}
			}
			switch t := x["type"].(type) {
			case string:
				x["type"] = []any{t, "null"}
				return x
			case []any:
				x["type"] = append(t, "null")
				return x
			}
			return map[string]any{"anyOf": []any{x, map[string]any{"type": "null"}}}
		}
		return x
	case []any:
		for i, val := range x {
			x[i] = convertOAS30(val)
		}
		return x
	}
	return v
}

// pointerEscape escapes one JSON pointer token.
func pointerEscape(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// Operation is one path+method of the REST description.
type Operation struct {
	ID       string // operationId
	Method   string // upper case
	Template string // e.g. /repos/{owner}/{repo}/pulls/{pull_number}
	raw      map[string]any
}

// Spec is a loaded REST description with lazily compiled validators.
type Spec struct {
	doc      map[string]any
	byMethod map[string][]*pathTemplate

	mu       sync.Mutex
	compiler *jsonschema.Compiler
	schemas  map[string]*jsonschema.Schema
	errs     map[string]error
}

type pathTemplate struct {
	segs []string // literal or "{name}"
	op   *Operation
}

const restSpecURL = "https://github.com/octokit/openapi/api.github.com.json"

var (
	restSpecOnce sync.Once
	restSpec     *Spec
	restSpecErr  error
)

// LoadRESTSpec loads the pinned REST description once per process.
func LoadRESTSpec() (*Spec, error) {
	restSpecOnce.Do(func() {
		p, err := RESTSpecPath()
		if err != nil {
			restSpecErr = err
			return
		}
		restSpec, restSpecErr = loadSpec(p)
	})
	return restSpec, restSpecErr
}

func loadSpec(path string) (*Spec, error) {
	raw, err := loadJSONDoc(path)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", path, err)
	}
	doc, ok := raw.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("loading %s: not an object", path)
	}
	if comps, ok := doc["components"]; ok {
		doc["components"] = convertOAS30(comps)
	}
	doc["paths"] = convertOAS30(doc["paths"])
	s := &Spec{doc: doc, byMethod: map[string][]*pathTemplate{}, schemas: map[string]*jsonschema.Schema{}, errs: map[string]error{}}
	paths, _ := doc["paths"].(map[string]any)
	for tmpl, item := range paths {
		ops, _ := item.(map[string]any)
		for m, o := range ops {
			om, ok := o.(map[string]any)
			if !ok || m == "parameters" {
				continue
			}
			id, _ := om["operationId"].(string)
			op := &Operation{ID: id, Method: strings.ToUpper(m), Template: tmpl, raw: om}
			s.byMethod[op.Method] = append(s.byMethod[op.Method], &pathTemplate{segs: strings.Split(strings.Trim(tmpl, "/"), "/"), op: op})
		}
	}
	// Prefer templates with more literal segments, as a router does.
	for _, l := range s.byMethod {
		sort.Slice(l, func(i, j int) bool { return literalCount(l[i].segs) > literalCount(l[j].segs) })
	}
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	registerLenientFormats(c)
	if err := c.AddResource(restSpecURL, doc); err != nil {
		return nil, fmt.Errorf("adding spec resource: %w", err)
	}
	s.compiler = c
	return s, nil
}

func literalCount(segs []string) int {
	n := 0
	for _, s := range segs {
		if !strings.HasPrefix(s, "{") {
			n++
		}
	}
	return n
}

// Match finds the operation for a method and a concrete path.
// It returns (nil, true) when the path exists with other methods only.
func (s *Spec) Match(method, path string) (op *Operation, pathKnown bool) {
	segs := strings.Split(strings.Trim(path, "/"), "/")
	if op := matchIn(s.byMethod[strings.ToUpper(method)], segs); op != nil {
		return op, true
	}
	for m, l := range s.byMethod {
		if m != strings.ToUpper(method) && matchIn(l, segs) != nil {
			return nil, true
		}
	}
	return nil, false
}

func matchIn(l []*pathTemplate, segs []string) *Operation {
	for _, t := range l {
		if !segCountOK(t.segs, segs) {
			continue
		}
		ok := true
		for i, ts := range t.segs {
			if strings.HasPrefix(ts, "{") && strings.HasSuffix(ts, "}") {
				if segs[i] == "" {
					ok = false
					break
				}
				continue
			}
			if ts != segs[i] {
				ok = false
				break
			}
		}
		if ok {
			return t.op
		}
	}
	return nil
}

// schemaAt compiles (once) the schema at a JSON pointer inside the document.
func (s *Spec) schemaAt(ptr string) (*jsonschema.Schema, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if sch, ok := s.schemas[ptr]; ok {
		return sch, nil
	}
	if err, ok := s.errs[ptr]; ok {
		return nil, err
	}
	sch, err := s.compiler.Compile(restSpecURL + "#" + ptr)
	if err != nil {
		s.errs[ptr] = err
		return nil, err
	}
	s.schemas[ptr] = sch
	return sch, nil
}

func (op *Operation) pointer() string {
	return "/paths/" + pointerEscape(op.Template) + "/" + strings.ToLower(op.Method)
}

// resolve follows a local $ref in the document (parameters, responses).
func (s *Spec) resolve(v any) map[string]any {
	m, _ := v.(map[string]any)
	for i := 0; i < 8 && m != nil; i++ {
		ref, ok := m["$ref"].(string)
		if !ok {
			return m
		}
		m = s.lookup(strings.TrimPrefix(ref, "#"))
	}
	return m
}

func (s *Spec) lookup(ptr string) map[string]any {
	var cur any = s.doc
	for _, tok := range strings.Split(strings.TrimPrefix(ptr, "/"), "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		m, ok := cur.(map[string]any)
		if !ok {
			return nil
		}
		cur = m[tok]
	}
	m, _ := cur.(map[string]any)
	return m
}

// parameters returns the operation's parameters resolved, keyed by "in:name".
func (s *Spec) parameters(op *Operation) map[string]map[string]any {
	out := map[string]map[string]any{}
	add := func(list any) {
		l, _ := list.([]any)
		for _, p := range l {
			pm := s.resolve(p)
			if pm == nil {
				continue
			}
			in, _ := pm["in"].(string)
			name, _ := pm["name"].(string)
			out[in+":"+name] = pm
		}
	}
	if item, ok := s.doc["paths"].(map[string]any)[op.Template].(map[string]any); ok {
		add(item["parameters"])
	}
	add(op.raw["parameters"])
	return out
}

// Violation is one way an exchange departs from the description.
type Violation struct {
	Method, Path string
	Status       int
	What         string
}

func (v Violation) String() string {
	if v.Status != 0 {
		return fmt.Sprintf("%s %s -> %d: %s", v.Method, v.Path, v.Status, v.What)
	}
	return fmt.Sprintf("%s %s: %s", v.Method, v.Path, v.What)
}

// Exchange is one request/response pair as seen on the wire.
type Exchange struct {
	Method              string          `json:"method"`
	Path                string          `json:"path"`
	Query               string          `json:"query"`
	Status              int             `json:"status"`
	RequestBody         json.RawMessage `json:"request_body,omitempty"`
	ResponseBody        json.RawMessage `json:"response_body,omitempty"`
	RequestContentType  string          `json:"request_content_type,omitempty"`
	ResponseContentType string          `json:"response_content_type,omitempty"`
	// Deliberate marks responses the emulator was told to produce (faults,
	// forced rate limits): their status need not be documented.
	Deliberate bool `json:"deliberate,omitempty"`
}

// CheckExchange validates one exchange against the description and returns
// what is wrong with it (nothing when it conforms).
func (s *Spec) CheckExchange(ex Exchange) []Violation {
	var out []Violation
	ex.RequestBody = json.RawMessage(strings.TrimSpace(string(ex.RequestBody)))
	bad := func(status int, format string, args ...any) {
		out = append(out, Violation{Method: ex.Method, Path: ex.Path, Status: status, What: fmt.Sprintf(format, args...)})
	}
	op, known := s.Match(ex.Method, ex.Path)
	if op == nil {
		if known {
			bad(0, "method not allowed by the description")
		} else {
			bad(0, "path unknown to the description")
		}
		return out
	}
	params := s.parameters(op)
	// Query parameters must be declared and well-typed.
	q, err := url.ParseQuery(ex.Query)
	if err != nil {
		bad(0, "query: %v", err)
	}
	for name, vals := range q {
		p, ok := params["query:"+name]
		if !ok {
			bad(0, "query parameter %q not declared by %s", name, op.ID)
			continue
		}
		if schema, ok := p["schema"].(map[string]any); ok {
			for _, v := range vals {
				if err := checkScalar(schema, v); err != nil {
					bad(0, "query parameter %q=%q: %v", name, v, err)
				}
			}
		}
	}
	// Request body.
	if rb, ok := s.resolve(op.raw["requestBody"])["content"].(map[string]any); ok && ex.Method != "GET" {
		if _, ok := rb["application/json"]; ok {
			if len(ex.RequestBody) == 0 || string(ex.RequestBody) == "null" {
				if req, _ := s.resolve(op.raw["requestBody"])["required"].(bool); req {
					bad(0, "request body required by %s", op.ID)
				}
			} else {
				ptr := op.pointer() + "/requestBody/content/application~1json/schema"
				if ref, ok := op.raw["requestBody"].(map[string]any)["$ref"].(string); ok {
					ptr = strings.TrimPrefix(ref, "#") + "/content/application~1json/schema"
				}
				if err := s.validateAt(ptr, ex.RequestBody); err != nil {
					bad(0, "request body (%s): %v", op.ID, err)
				}
			}
		}
	} else if len(ex.RequestBody) > 0 && string(ex.RequestBody) != "null" && ex.Method != "GET" {
		bad(0, "request body sent to %s, which takes none", op.ID)
	}
	// Response.
	if ex.Status == 0 {
		return out
	}
	resps, _ := op.raw["responses"].(map[string]any)
	code := strconv.Itoa(ex.Status)
	if ex.Status == 304 && ex.Method == "GET" {
		// Any GET answers a matching If-None-Match with 304 and no body.
		if len(ex.ResponseBody) > 0 {
			bad(ex.Status, "304 with a body")
		}
		return out
	}
	respRaw, declared := resps[code]
	if !declared {
		respRaw, declared = resps["default"]
	}
	if !declared {
		if ex.Deliberate || ex.Status >= 400 {
			// GitHub may answer any operation with 401/403/404/5xx; the body
			// must still be GitHub's error shape.
			if ex.Status != 304 && len(ex.ResponseBody) > 0 {
				var m map[string]any
				if json.Unmarshal(ex.ResponseBody, &m) != nil || m["message"] == nil {
					bad(ex.Status, "error response is not a GitHub error object")
				}
			}
			return out
		}
		bad(ex.Status, "status %d not documented for %s", ex.Status, op.ID)
		return out
	}
	resp := s.resolve(respRaw)
	content, _ := resp["content"].(map[string]any)
	if _, ok := content["application/json"]; !ok {
		if len(ex.ResponseBody) > 0 && ex.Status != 304 && len(content) == 0 {
			// The description leaves many error bodies out (404, 409);
			// GitHub still sends its error object with them.
			var m map[string]any
			isErr := ex.Status >= 400 && json.Unmarshal(ex.ResponseBody, &m) == nil && m["message"] != nil
			if !isErr {
				bad(ex.Status, "response has a body where %s documents none", op.ID)
			}
		}
		return out
	}
	if ex.Status != 304 && !strings.HasPrefix(ex.ResponseContentType, "application/json") {
		bad(ex.Status, "response content-type %q, want application/json", ex.ResponseContentType)
	}
	ptr := op.pointer() + "/responses/" + code + "/content/application~1json/schema"
	if _, ok := resps[code]; !ok {
		ptr = op.pointer() + "/responses/default/content/application~1json/schema"
	}
	if ref, ok := respRaw.(map[string]any)["$ref"].(string); ok {
		ptr = strings.TrimPrefix(ref, "#") + "/content/application~1json/schema"
	}
	if err := s.validateAt(ptr, ex.ResponseBody); err != nil {
		bad(ex.Status, "response body (%s): %v", op.ID, err)
	}
	return out
}

func (s *Spec) validateAt(ptr string, body []byte) error {
	sch, err := s.schemaAt(ptr)
	if err != nil {
		return fmt.Errorf("compiling %s: %w", ptr, err)
	}
	v, err := jsonschema.UnmarshalJSON(strings.NewReader(string(body)))
	if err != nil {
		return fmt.Errorf("not JSON: %w", err)
	}
	return sch.Validate(v)
}

// checkScalar checks a query-string value against a simple parameter schema.
func checkScalar(schema map[string]any, v string) error {
	if enum, ok := schema["enum"].([]any); ok {
		for _, e := range enum {
			if fmt.Sprint(e) == v {
				return nil
			}
		}
		return fmt.Errorf("not one of %v", enum)
	}
	t, _ := schema["type"].(string)
	if tl, ok := schema["type"].([]any); ok && len(tl) > 0 {
		t, _ = tl[0].(string)
	}
	switch t {
	case "integer":
		if _, err := strconv.ParseInt(v, 10, 64); err != nil {
			return errors.New("not an integer")
		}
	case "boolean":
		if v != "true" && v != "false" {
			return errors.New("not a boolean")
		}
	}
	return nil
}

var _ = io.EOF

// uriTemplateFormat replaces the validator's uri-template check, which
// rejects GitHub's own templates such as ".../git/trees{/sha}": a template
// is a URI whose braces are balanced and not nested.
var uriTemplateFormat = &jsonschema.Format{
	Name: "uri-template",
	Validate: func(v any) error {
		str, ok := v.(string)
		if !ok {
			return nil
		}
		depth := 0
		for _, r := range str {
			switch r {
			case '{':
				depth++
				if depth > 1 {
					return errors.New("nested brace")
				}
			case '}':
				depth--
				if depth < 0 {
					return errors.New("unmatched closing brace")
				}
			}
		}
		if depth != 0 {
			return errors.New("no matching closing brace")
		}
		return nil
	},
}

// registerLenientFormats adjusts format checks where GitHub's real answers
// are looser than its description says: deployment statuses carry "" for
// unset URLs, bot commit emails look like 41898282+name[bot]@users.noreply...
// and URL templates such as ".../git/trees{/sha}" trip the validator's own
// uri-template parser.
func registerLenientFormats(c *jsonschema.Compiler) {
	c.RegisterFormat(uriTemplateFormat)
	c.RegisterFormat(&jsonschema.Format{Name: "uri", Validate: func(v any) error {
		str, ok := v.(string)
		if !ok || str == "" {
			return nil
		}
		u, err := url.Parse(str)
		if err != nil {
			return err
		}
		if u.Scheme == "" {
			return errors.New("not absolute")
		}
		return nil
	}})
	c.RegisterFormat(&jsonschema.Format{Name: "email", Validate: func(v any) error {
		str, ok := v.(string)
		if !ok {
			return nil
		}
		local, domain, found := strings.Cut(str, "@")
		if !found || local == "" || domain == "" || strings.ContainsAny(str, " \t\n") {
			return errors.New("not an email address")
		}
		return nil
	}})
}
