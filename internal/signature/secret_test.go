package signature_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/oppconfig/oppconfig-graphql/internal/signature"
)

// secretValue is what must never be printed. It is distinctive enough that any
// occurrence in output is a leak.
const secretValue = "hunter2-s3cr3t"

type holder struct {
	Name   string
	Secret signature.Secret
}

func TestSecretNeverPrinted(t *testing.T) {
	s := signature.NewSecret(secretValue)
	h := holder{Name: "visible", Secret: s}
	creds := signature.Credentials{AppID: "visible-app", AppKey: s, AppSecret: s}

	mustJSON := func(v any) string {
		t.Helper()
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("json.Marshal: %v", err)
		}
		return string(b)
	}
	mustXML := func(v any) string {
		t.Helper()
		b, err := xml.Marshal(v)
		if err != nil {
			t.Fatalf("xml.Marshal: %v", err)
		}
		return string(b)
	}
	logJSON := func(args ...any) string {
		var buf bytes.Buffer
		slog.New(slog.NewJSONHandler(&buf, nil)).Info("msg", args...)
		return buf.String()
	}
	logText := func(args ...any) string {
		var buf bytes.Buffer
		slog.New(slog.NewTextHandler(&buf, nil)).Info("msg", args...)
		return buf.String()
	}

	tests := []struct {
		name string
		give string
		want string // must appear, to prove the output is what we think it is
	}{
		{"struct %v", fmt.Sprintf("%v", h), "{visible REDACTED}"},
		{"struct %+v", fmt.Sprintf("%+v", h), "{Name:visible Secret:REDACTED}"},
		{"struct %#v", fmt.Sprintf("%#v", h), `Secret:"REDACTED"`},
		{"struct %s", fmt.Sprintf("%s", h), "{visible REDACTED}"},
		{"pointer %+v", fmt.Sprintf("%+v", &h), "&{Name:visible Secret:REDACTED}"},
		{"secret %v", fmt.Sprintf("%v", s), "REDACTED"},
		{"secret %s", fmt.Sprintf("%s", s), "REDACTED"},
		{"secret %q", fmt.Sprintf("%q", s), `"REDACTED"`},
		{"secret %#v", fmt.Sprintf("%#v", s), `"REDACTED"`},
		{"secret padded %10s", fmt.Sprintf("%10s", s), "  REDACTED"},
		{"struct %q", fmt.Sprintf("%q", h), `"REDACTED"`},
		{"Sprint", fmt.Sprint(s), "REDACTED"},
		{"Sprint struct", fmt.Sprint(h), "REDACTED"},
		{"Sprintln slice", fmt.Sprintln([]signature.Secret{s, s}), "[REDACTED REDACTED]"},
		{"Errorf %v", fmt.Errorf("sign with %v", s).Error(), "sign with REDACTED"},
		{"json field", mustJSON(h), `{"Name":"visible","Secret":"REDACTED"}`},
		{"json pointer field", mustJSON(struct{ P *signature.Secret }{&s}), `{"P":"REDACTED"}`},
		{"json map value", mustJSON(map[string]signature.Secret{"k": s}), `{"k":"REDACTED"}`},
		{"json bare", mustJSON(s), `"REDACTED"`},
		{"xml field", mustXML(h), "<Secret>REDACTED</Secret>"},
		{"slog json attr", logJSON("secret", s), `"secret":"REDACTED"`},
		{"slog json struct", logJSON("h", h), `"Secret":"REDACTED"`},
		{"slog text attr", logText("secret", s), "secret=REDACTED"},
		{"slog text struct", logText("h", h), "Secret:REDACTED"},
		{"slog text slog.Any", logText(slog.Any("secret", s)), "secret=REDACTED"},
		{"credentials %+v", fmt.Sprintf("%+v", creds), "{AppID:visible-app AppKey:REDACTED AppSecret:REDACTED}"},
		{"credentials %#v", fmt.Sprintf("%#v", creds), `AppKey:"REDACTED"`},
		{"credentials json", mustJSON(creds), `{"AppID":"visible-app","AppKey":"REDACTED","AppSecret":"REDACTED"}`},
		{"credentials slog json Any", logJSON(slog.Any("creds", creds)), `"AppSecret":"REDACTED"`},
		{"credentials slog text Any", logText(slog.Any("creds", creds)), "AppSecret:REDACTED"},
		{"credentials pointer slog json", logJSON(slog.Any("creds", &creds)), `"AppKey":"REDACTED"`},
		{"credentials slog group", logText(slog.Group("g", slog.Any("key", creds.AppKey))), "g.key=REDACTED"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if strings.Contains(tt.give, secretValue) {
				t.Errorf("output leaks the secret: %s", tt.give)
			}
			if !strings.Contains(tt.give, tt.want) {
				t.Errorf("output %q does not contain %q", tt.give, tt.want)
			}
		})
	}
}

// TestSecretBadVerbs checks verbs that do not apply to strings. fmt reports them
// as "%!d(signature.Secret=<value>)" and, while doing so, ignores String and
// GoString, so without a fmt.Formatter the raw value is printed. go vet flags a
// constant format with such a verb, which is why the formats come from the table;
// a format built at run time (or a vet-less build) is not protected.
func TestSecretBadVerbs(t *testing.T) {
	s := signature.NewSecret(secretValue)
	creds := signature.Credentials{AppID: "visible-app", AppKey: s, AppSecret: s}
	tests := []struct {
		name   string
		format string
		give   any
	}{
		{"secret d", "%d", s},
		{"secret t", "%t", s},
		{"secret c", "%c", s},
		{"secret U", "%U", s},
		{"credentials d", "%d", creds},
		{"credentials p", "%p", creds},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fmt.Sprintf(tt.format, tt.give); strings.Contains(got, secretValue) {
				t.Errorf("Sprintf(%q) leaks the secret: %s", tt.format, got)
			}
		})
	}
}
