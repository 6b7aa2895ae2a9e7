package config

import (
	"slices"
	"strings"
	"testing"
)

// connectionStringCases are connection strings as their drivers read them,
// masked: the secret never shows, everything else does.
var connectionStringCases = []struct{ name, in, want string }{
	{"ADO.NET", "Host=db;Username=gis;Password=hunter2;Database=gis", "Host=db;Username=gis;Password=***;Database=gis"},
	{"ampersand in a password", "Host=db;Password=Tr0ub&dorNEW", "Host=db;Password=***"},
	{"ampersand, the whole string", "Password=Tr0ub&dorNEW", "Password=***"},
	{"single-quoted with a space", "Host=db;password='OLD secretA';Port=5432", "Host=db;password=***;Port=5432"},
	{"double-quoted with a semicolon", `Host=db;Password="OLD pw;1";Port=5432`, `Host=db;Password=***;Port=5432`},
	{"doubled quote inside", `Password="a""b;c";Host=x`, `Password=***;Host=x`},
	{"ODBC braces", "Driver={PostgreSQL};Server=db;PWD={p;a}}ss};UID=gis", "Driver={PostgreSQL};Server=db;PWD=***;UID=gis"},
	{"unclosed quote hides the rest", `Host=db;Password="abc;Port=5432`, `Host=db;Password=***`},
	{"spaces in keys", "Data Source=db;User ID=gis;Pass Word=x1", "Data Source=db;User ID=gis;Pass Word=***"},
	{"Snowflake private key password", "account=acme;user=gis;private_key_file=/k.p8;private_key_pwd=s3cr3t", "account=acme;user=gis;private_key_file=/k.p8;private_key_pwd=***"},
	{"Cosmos account key", "AccountEndpoint=https://x.documents.azure.com:443/;AccountKey=abc==;", "AccountEndpoint=https://x.documents.azure.com:443/;AccountKey=***;"},
	{"AWS", "Server=r;AccessKeyID=AKIA1;SecretAccessKey=zz", "Server=r;AccessKeyID=AKIA1;SecretAccessKey=***"},
	{"libpq", "host=db password='OLD secretA' dbname=gis", "host=db password=*** dbname=gis"},
	{"libpq escape", `host=db password='it\'s' user=x`, `host=db password=*** user=x`},
	{"libpq unquoted", "host=db password=abc sslmode=require", "host=db password=*** sslmode=require"},
	{"URL, the last @", "postgresql://u:OLDp@ss@host/db", "postgresql://u:***@host/db"},
	{"URL with a query secret", "mongodb://gis:pw@h1,h2/db?authSource=admin&password=x2&tls=true", "mongodb://gis:***@h1,h2/db?authSource=admin&password=***&tls=true"},
	{"URL, slash in the password", "postgresql://u:pa/ss@host/db", "postgresql://u:***@host/db"},
	{"JDBC", "jdbc:sqlserver://db:1433;databaseName=gis;user=u;password=p;encrypt=true", "jdbc:sqlserver://db:1433;databaseName=gis;user=u;password=***;encrypt=true"},
	{"JDBC URL userinfo", "jdbc:postgresql://u:pw@db/gis?ssl=true", "jdbc:postgresql://u:***@db/gis?ssl=true"},
	{"DSN without a scheme", "gis:s3cret@acme-account/db/schema?warehouse=wh", "gis:***@acme-account/db/schema?warehouse=wh"},
	{"SAS signature", "https://a.blob.core.windows.net/c?sv=2022&sig=abc%2F&se=2030", "https://a.blob.core.windows.net/c?sv=2022&sig=***&se=2030"},
	{"a credential inside another value", "Host=db Password=x9;Port=1", "Host=db Password=***;Port=1"},
	{"references stay", "Host=db;Password=${PG_PASSWORD}", "Host=db;Password=${PG_PASSWORD}"},
	{"URL reference stays", "postgresql://gis:${PG}@db/gis", "postgresql://gis:${PG}@db/gis"},
	{"no secret", "Data Source=/data/kailua.sqlite;Mode=ReadOnly", "Data Source=/data/kailua.sqlite;Mode=ReadOnly"},
	{"user only", "postgresql://gis@db/gis", "postgresql://gis@db/gis"},
	{"port, no user", "postgresql://db:5432/gis?application_name=a@b", "postgresql://db:5432/gis?application_name=a@b"},
}

func TestRedactConnectionString(t *testing.T) {
	for _, tt := range connectionStringCases {
		t.Run(tt.name, func(t *testing.T) {
			if got := RedactConnectionString(tt.in); got != tt.want {
				t.Errorf("RedactConnectionString(%q)\n got %q\nwant %q", tt.in, got, tt.want)
			}
			// Validation reads the same way: a string that masking
			// changes has an inline secret, one it keeps has none.
			if found := inlineSecrets(tt.in); (len(found) > 0) != (tt.want != tt.in) {
				t.Errorf("inlineSecrets(%q) = %v, but masking gives %q", tt.in, found, tt.want)
			}
		})
	}
}

// TestEveryCredentialKeyIsRefusedInline: validation and masking share one
// definition, so every key masking knows is refused when written inline,
// and accepted as a reference.
func TestEveryCredentialKeyIsRefusedInline(t *testing.T) {
	for _, key := range CredentialKeys() {
		forms := []string{key, strings.ToUpper(key)}
		if !slices.Contains(credentialKeys, key) {
			forms = append(forms, "ssl_"+key) // an ending: any key ending so
		}
		for _, written := range forms {
			inline := "Host=db;" + written + "=v4lue;Port=1"
			if got := inlineSecrets(inline); len(got) != 1 {
				t.Errorf("%q: inline %v, want one", inline, got)
			}
			if RedactConnectionString(inline) != "Host=db;"+written+"=***;Port=1" {
				t.Errorf("%q masked to %q", inline, RedactConnectionString(inline))
			}
			if got := inlineSecrets("Host=db;" + written + "=${X}"); len(got) != 0 {
				t.Errorf("%s as a reference: inline %v", written, got)
			}
			files := minimal()
			files["environments/prod/datasources.yaml"] = "dataSources:\n  - id: pg\n    provider: postgis\n    connectionString: \"" + inline + "\"\n"
			st := loadTree(t, files)
			if d, ok := findDiagnostic(st, "inline"); !ok || strings.Contains(d, "v4lue") {
				t.Errorf("%s: validation %q (found %v)", written, d, ok)
			}
		}
	}
	for _, notSecret := range []string{"AccessKeyId", "SharedAccessKeyName", "private_key_file", "Passfile", "user", "tokenUrl"} {
		if IsCredentialKey(notSecret) {
			t.Errorf("%s is not a credential", notSecret)
		}
	}
}

// TestSecretReferencesOnlyInSecretFields is the exfiltration case: a
// reference in a title would publish the runner's token.
func TestSecretReferencesOnlyInSecretFields(t *testing.T) {
	files := minimal()
	files["environments/common/layers/streets.yaml"] = strings.Replace(files["environments/common/layers/streets.yaml"], "title: Streets", "title: \"Parks ${RUNNER_TOKEN}\"", 1)
	files["environments/prod/metadata.yaml"] += "server:\n  banner: \"${HOME}\"\n  auth:\n    apiKey: abc123\n"
	st := loadTree(t, files)
	d, ok := findDiagnostic(st, "holds a ${...} reference")
	if !ok || !strings.HasPrefix(d, "environments/common/layers/streets.yaml:3:") {
		t.Fatalf("reference in a title: %q\n%s", d, strings.Join(allDiagnostics(st), "\n"))
	}
	if d, ok := findDiagnostic(st, "top-level key server: server.banner holds a ${...} reference"); !ok {
		t.Errorf("reference in server: %q", d)
	}
	if d, ok := findDiagnostic(st, "server.auth.apiKey holds a credential inline"); !ok || strings.Contains(d, "abc123") {
		t.Errorf("credential in server: %q", d)
	}
	if _, err := RenderJSON(st.Environments["prod"], func(string) (string, bool) { return "T0KEN", true }); err == nil {
		t.Fatal("an environment with a reference outside a secret field rendered")
	}
}

func TestSecretUses(t *testing.T) {
	o := NewObject(KindDataSource, "pg", Position{}, map[string]any{
		"id": "pg", "connectionString": "Host=${PG_HOST};Username=gis;Password=${PG_PASSWORD};Options='-c x=${PG_HOST}'",
	}, nil)
	got := SecretUses(o)
	want := []SecretUse{{"PG_HOST", "connectionString", "host"}, {"PG_HOST", "connectionString", "options"}, {"PG_PASSWORD", "connectionString", "password"}}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("use %d: got %+v, want %+v", i, got[i], want[i])
		}
	}
	u := NewObject(KindDataSource, "m", Position{}, map[string]any{"connectionString": "mongodb://${U}:${P}@db/x"}, nil)
	if got := SecretUses(u); len(got) != 2 || got[0].Part != "password" || got[1].Part != "user" {
		t.Errorf("URL uses: %+v", got)
	}
}

// TestURLPasswordAnywhere: a URL with a password is a credential in Git
// wherever it is (a link, a raster's source); the plan masks it, and
// validation refuses it.
func TestURLPasswordAnywhere(t *testing.T) {
	files := minimal()
	files["environments/common/layers/streets.yaml"] += "links:\n  - href: https://gis:hunter2@maps.example/streets\n"
	st := loadTree(t, files)
	d, ok := findDiagnostic(st, "links[0].href is a URL with a password")
	if !ok || strings.Contains(d, "hunter2") {
		t.Fatalf("URL with a password: %q\n%s", d, strings.Join(allDiagnostics(st), "\n"))
	}
	files = minimal()
	files["environments/common/layers/streets.yaml"] += "links:\n  - href: https://gis@maps.example/streets\n"
	if d := allDiagnostics(loadTree(t, files)); len(d) > 0 {
		t.Errorf("a URL with a user and no password: %v", d)
	}
}
