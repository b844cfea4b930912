package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/http-connector/http-connector/examples/s7webapi"
	"github.com/http-connector/http-connector/examples/shelly"
)

// The secrets of the authentication schemes of additionalConfiguration,
// each in a file of the settings' secrets folder.
const (
	secretBearerToken   = "bearer-Vt6sQp2Lx9"
	secretWrongToken    = "bearer-wrong-Zc4Nm7Yd"
	secretHeaderKey     = "hkey-Rb8Wu3Jf5q"
	secretQueryKey      = "qkey-Mh2Tc6Xv4p"
	secretDataPointKey  = "dpkey-Ks9Ge1Wn7r"
	secretDigestPass    = "digest-pw-Fy5Ld8Qa"
	secretClientID      = "client-id-Uj3Po6Ez"
	secretClientSecret  = "client-secret-Hw7Bn2Ck"
	secretWrongSecret   = "client-secret-wrong-Dq4Vr9Tm"
	secretAccessToken   = "access-token-Xe8Ra5Gs1u"
	secretPLCPassword   = "plc-pw-Nz6Cy3Hk"
	secretWrongPLCPass  = "plc-pw-wrong-Jt2Xw8Lb"
	secretFormPassword  = "form-pw-Pq7Ms4Av"
	secretWrongFormPass = "form-pw-wrong-Vb5Ej8Yo"
	secretSessionCookie = "session-Wg3Ty9Kd6e"
)

// addSchemes adds a device and an asset for each scheme to the fixture:
// bearer, API keys in a header and in the query, Digest, OAuth2 client
// credentials, a JSON-RPC login over HTTPS, a form login with a session
// cookie and a data point header from a secret; a wrong bearer token, a
// wrong OAuth2 client secret, a wrong PLC password and a wrong form
// password are refused, the last two by answers that echo the client id
// and the form. The devices add what they are sent and what they hand out
// to the leaks.
func (f *secretsFixture) addSchemes(t *testing.T, files map[string]string) {
	t.Helper()
	addSchemeSecrets(files)
	f.addSchemeLeaks()
	urls := schemeURLs{bearer: bearerDevice(t), keys: apiKeyDevice(t), digest: f.shelly(t), oauth2: f.oauth2Server(t)}
	plc, plcCA := f.plc(t)
	urls.plc = plc
	urls.form = formLogin(t)
	files["secrets/plc/cert"] = string(plcCA)
	files["config/schemes.yaml"] = schemesConfig(urls)
	f.expectSchemes(urls)
}

// schemeURLs are the URLs of the devices of addSchemes.
type schemeURLs struct {
	bearer string // bearerDevice
	keys   string // apiKeyDevice
	digest string // shelly
	oauth2 string // oauth2Server
	plc    string // plc
	form   string // formLogin
}

// addSchemeSecrets writes the secrets of the schemes into the secrets
// folder of files.
func addSchemeSecrets(files map[string]string) {
	for name, value := range map[string]string{
		"tokens/bearer":  secretBearerToken,
		"tokens/wrong":   secretWrongToken,
		"keys/header":    secretHeaderKey,
		"keys/query":     secretQueryKey,
		"keys/datapoint": secretDataPointKey,
		"shelly/user":    shelly.User,
		"shelly/pass":    secretDigestPass,
		"oauth/id":       secretClientID,
		"oauth/secret":   secretClientSecret,
		"oauth/wrong":    secretWrongSecret,
		"plc/user":       "admin",
		"plc/pass":       secretPLCPassword,
		"plc/wrong":      secretWrongPLCPass,
		"form/user":      "operator",
		"form/pass":      secretFormPassword,
		"form/wrong":     secretWrongFormPass,
	} {
		files["secrets/"+name] = value
	}
}

// addSchemeLeaks adds the secrets of the schemes, and what is made of
// them, to the leaks.
func (f *secretsFixture) addSchemeLeaks() {
	for what, secret := range map[string]string{
		"the bearer token":                   secretBearerToken,
		"the wrong bearer token":             secretWrongToken,
		"the header API key":                 secretHeaderKey,
		"the query API key":                  secretQueryKey,
		"the data point key":                 secretDataPointKey,
		"the Digest password":                secretDigestPass,
		"the Digest HA1":                     sha256Hex(shelly.User + ":" + shelly.ID + ":" + secretDigestPass),
		"the OAuth2 client id":               secretClientID,
		"the OAuth2 client secret":           secretClientSecret,
		"the wrong OAuth2 client secret":     secretWrongSecret,
		"the OAuth2 Basic credentials":       base64.StdEncoding.EncodeToString([]byte(secretClientID + ":" + secretClientSecret)),
		"the wrong OAuth2 Basic credentials": base64.StdEncoding.EncodeToString([]byte(secretClientID + ":" + secretWrongSecret)),
		"the OAuth2 access token":            secretAccessToken,
		"the PLC password":                   secretPLCPassword,
		"the wrong PLC password":             secretWrongPLCPass,
		"the form password":                  secretFormPassword,
		"the wrong form password":            secretWrongFormPass,
		"the session cookie":                 secretSessionCookie,
	} {
		f.leaks[what] = secret
	}
}

// bearerDevice starts a device that serves a reading for the bearer token
// only.
func bearerDevice(t *testing.T) string {
	t.Helper()
	return serve(t, map[string]http.HandlerFunc{"GET /reading": func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+secretBearerToken {
			w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
			http.Error(w, "invalid token", http.StatusUnauthorized)
			return
		}
		io.WriteString(w, `{"level": 42.5}`)
	}})
}

// apiKeyDevice starts a device that serves a reading for each key: the
// header API key, the query API key and the data point key.
func apiKeyDevice(t *testing.T) string {
	t.Helper()
	return serve(t, map[string]http.HandlerFunc{
		"GET /header": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-API-Key") != secretHeaderKey {
				http.Error(w, "no key", http.StatusForbidden)
				return
			}
			io.WriteString(w, `{"voltage": 229.75}`)
		},
		"GET /query": func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Query().Get("api_key") != secretQueryKey {
				http.Error(w, "no key", http.StatusForbidden)
				return
			}
			io.WriteString(w, `{"current": 4.125}`)
		},
		"GET /datapoint": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-Device-Key") != secretDataPointKey {
				http.Error(w, "no key", http.StatusForbidden)
				return
			}
			io.WriteString(w, `{"humidity": 61.25}`)
		},
	})
}

// schemesConfig is the configuration of the devices and assets of
// addSchemes, one pair per scheme.
func schemesConfig(urls schemeURLs) string {
	return strings.Join([]string{
		schemeDevice("bearer", urls.bearer, "", "", "", `{"auth": {"type": "bearer", "token": "${secret:tokens/bearer}"}}`),
		schemeAsset("bearer", "level", "/reading", ""),
		schemeDevice("bearer-wrong", urls.bearer, "", "", "", `{"auth": {"type": "bearer", "token": "${secret:tokens/wrong}"}}`),
		schemeAsset("bearer-wrong", "level", "/reading", ""),
		schemeDevice("apikey-header", urls.keys, "", "", "", `{"auth": {"type": "apiKey", "name": "X-API-Key", "value": "${secret:keys/header}"}}`),
		schemeAsset("apikey-header", "voltage", "/header", ""),
		schemeDevice("apikey-query", urls.keys, "", "", "", `{"auth": {"type": "apiKey", "in": "query", "name": "api_key", "value": "${secret:keys/query}"}}`),
		schemeAsset("apikey-query", "current", "/query", ""),
		schemeDevice("datapoint-header", urls.keys, "", "", "", ""),
		schemeAsset("datapoint-header", "humidity", "/datapoint", `{"headers": {"X-Device-Key": "${secret:keys/datapoint}"}}`),
		schemeDevice("digest", urls.digest, "shelly/user", "shelly/pass", "", `{"auth": {"type": "digest"}}`),
		schemeAsset("digest", "switch", "/rpc/Switch.GetStatus?id=0", ""),
		schemeDevice("oauth2", urls.oauth2, "oauth/id", "oauth/secret", "", `{"auth": {"type": "oauth2", "tokenUrl": "/oauth/token", "scopes": ["read"]}}`),
		schemeAsset("oauth2", "flow", "/reading", ""),
		schemeDevice("oauth2-wrong", urls.oauth2, "oauth/id", "oauth/wrong", "", `{"auth": {"type": "oauth2", "tokenUrl": "/oauth/token", "scopes": ["read"]}}`),
		schemeAsset("oauth2-wrong", "flow", "/reading", ""),
		schemeDevice("plc", urls.plc, "plc/user", "plc/pass", "plc/cert", plcLogin),
		schemeAsset("plc", "temperature", "/api/jsonrpc", plcRead),
		schemeDevice("plc-wrong", urls.plc, "plc/user", "plc/wrong", "plc/cert", plcLogin),
		schemeAsset("plc-wrong", "temperature", "/api/jsonrpc", plcRead),
		schemeDevice("form-login", urls.form, "form/user", "form/pass", "", formLoginConfig),
		schemeAsset("form-login", "power", "/reading", ""),
		schemeDevice("form-login-wrong", urls.form, "form/user", "form/wrong", "", formLoginConfig),
		schemeAsset("form-login-wrong", "power", "/reading", ""),
	}, "---\n")
}

// expectSchemes adds the assets of addSchemes to those to try, with what
// try and run must say of them, the devices that refuse the credentials,
// and a check that the devices captured what the test scans for.
func (f *secretsFixture) expectSchemes(urls schemeURLs) {
	f.assets = append(f.assets, "bearer", "bearer-wrong", "apikey-header", "apikey-query", "datapoint-header",
		"digest", "oauth2", "oauth2-wrong", "plc", "plc-wrong", "form-login", "form-login-wrong")
	f.trySays["bearer"] = []string{"42.5"}
	f.trySays["apikey-header"] = []string{"229.75"}
	f.trySays["apikey-query"] = []string{"4.125", "request GET " + urls.keys + "/query\n"}
	f.trySays["datapoint-header"] = []string{"61.25"}
	f.trySays["digest"] = []string{`"apower":`}
	f.trySays["oauth2"] = []string{"oauth2 token POST " + urls.oauth2 + "/oauth/token\n    200 OK", "(token and secrets not shown)", "3.75"}
	f.trySays["oauth2-wrong"] = []string{"oauth2 token POST " + urls.oauth2 + "/oauth/token\n    failed: ", "invalid_client"}
	f.trySays["plc"] = []string{"login POST " + urls.plc + "/api/jsonrpc\n    200 OK", "(token and secrets not shown)", `{"jsonrpc":"2.0","id":1,"result":`}
	f.trySays["plc-wrong"] = []string{"login POST " + urls.plc + "/api/jsonrpc\n    failed: ", `JSON-RPC error 100 "Login failed"`}
	f.trySays["form-login"] = []string{"login POST " + urls.form + "/login\n    200 OK", "(token and secrets not shown)", "512.5"}
	f.trySays["form-login-wrong"] = []string{"login POST " + urls.form + "/login\n    failed: ", "HTTP 403 Forbidden: wrong user or password: <redacted> / <redacted>"}
	f.runSays = append(f.runSays, "invalid_client", "JSON-RPC error 100", "Login failed") // quoted differently in JSON
	f.refused = append(f.refused, "bearer-wrong", "oauth2-wrong", "plc-wrong", "form-login-wrong")
	f.checks = append(f.checks, func(t *testing.T) {
		f.mu.Lock()
		defer f.mu.Unlock()
		for _, what := range []string{"Digest response 1", "PLC token 1"} {
			if f.leaks[what] == "" {
				t.Errorf("no %s was captured: the test does not scan for it", what)
			}
		}
	})
}

// plcLogin is the S7-1500 login of examples/s7webapi.
const plcLogin = `{
  "auth": {
    "type": "login",
    "request": {"path": "/api/jsonrpc", "body": {"jsonrpc": "2.0", "id": 0, "method": "Api.Login", "params": {"user": "${username}", "password": "${password}"}}},
    "token": {"jq": ".result.token"},
    "use": {"header": "X-Auth-Token"},
    "relogin": {"jq": ".error.code? == 2"}
  }
}`

// formLoginConfig logs in by a form and keeps the session cookie.
const formLoginConfig = `{"auth": {"type": "login", "request": {"path": "/login", "form": {"user": "${username}", "pass": "${password}"}}}}`

// plcRead reads one variable of the PLC.
const plcRead = `{"HttpRequestMethod": "POST", "body": {"jsonrpc": "2.0", "id": 1, "method": "PlcProgram.Read", "params": {"var": "\"DB_Process\".temperature"}}, "jq": ".result"}`

// serve starts a loopback server of routes and returns its URL.
func serve(t *testing.T, routes map[string]http.HandlerFunc) string {
	t.Helper()
	mux := http.NewServeMux()
	for pattern, h := range routes {
		mux.HandleFunc(pattern, h)
	}
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.URL
}

// shelly starts the simulated Shelly with the Digest password, and adds
// each Digest response it is sent to the leaks.
func (f *secretsFixture) shelly(t *testing.T) string {
	t.Helper()
	dev := shelly.New(shelly.Options{Password: secretDigestPass, NonceUses: 5})
	response := regexp.MustCompile(`response="([0-9a-f]+)"`)
	var n int
	var mu sync.Mutex
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if m := response.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
			mu.Lock()
			n++
			f.leak(fmt.Sprintf("Digest response %d", n), m[1])
			mu.Unlock()
		}
		dev.Handler().ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// oauth2Server starts a token endpoint, which wants the client id and
// secret by HTTP Basic or in the form and the scope read, and echoes the
// client id when it refuses them, and a resource that wants the access
// token it issues.
func (f *secretsFixture) oauth2Server(t *testing.T) string {
	t.Helper()
	return serve(t, map[string]http.HandlerFunc{
		"POST /oauth/token": func(w http.ResponseWriter, r *http.Request) {
			id, secret, basic := r.BasicAuth()
			if err := r.ParseForm(); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			if !basic {
				id, secret = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
			}
			w.Header().Set("Content-Type", "application/json")
			switch {
			case r.PostForm.Get("grant_type") != "client_credentials" || r.PostForm.Get("scope") != "read":
				w.WriteHeader(http.StatusBadRequest)
				io.WriteString(w, `{"error":"invalid_request"}`)
			case id != secretClientID || secret != secretClientSecret:
				w.WriteHeader(http.StatusUnauthorized)
				fmt.Fprintf(w, `{"error":"invalid_client","error_description":"Client authentication failed for client %s"}`, id)
			default:
				fmt.Fprintf(w, `{"access_token":%q,"token_type":"Bearer","expires_in":3600,"scope":"read"}`, secretAccessToken)
			}
		},
		"GET /reading": func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("Authorization") != "Bearer "+secretAccessToken {
				http.Error(w, "invalid token", http.StatusUnauthorized)
				return
			}
			io.WriteString(w, `{"flow": 3.75}`)
		},
	})
}

// plc starts the simulated S7-1500 over HTTPS and returns its URL and
// certificate; each token it hands out is added to the leaks.
func (f *secretsFixture) plc(t *testing.T) (string, []byte) {
	t.Helper()
	p, err := s7webapi.New(s7webapi.Options{User: "admin", Password: secretPLCPassword})
	if err != nil {
		t.Fatal(err)
	}
	var n int
	var mu sync.Mutex
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &teeWriter{ResponseWriter: w}
		p.Handler().ServeHTTP(rec, r)
		var answer struct {
			Result struct {
				Token string `json:"token"`
			} `json:"result"`
		}
		if json.Unmarshal(rec.body.Bytes(), &answer) == nil && answer.Result.Token != "" {
			mu.Lock()
			n++
			f.leak(fmt.Sprintf("PLC token %d", n), answer.Result.Token)
			mu.Unlock()
		}
	}))
	srv.TLS = p.TLSConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv.URL, p.CertificatePEM()
}

// teeWriter keeps a copy of the body it writes.
type teeWriter struct {
	http.ResponseWriter
	body bytes.Buffer
}

func (w *teeWriter) Write(b []byte) (int, error) {
	w.body.Write(b)
	return w.ResponseWriter.Write(b)
}

// formLogin starts a web UI that logs in by a form, sets a session cookie
// and redirects, and serves a reading with that cookie only. A wrong
// password is refused with a page that echoes it.
func formLogin(t *testing.T) string {
	t.Helper()
	session := func(r *http.Request) bool {
		c, err := r.Cookie("sid")
		return err == nil && c.Value == secretSessionCookie
	}
	return serve(t, map[string]http.HandlerFunc{
		"POST /login": func(w http.ResponseWriter, r *http.Request) {
			if r.PostFormValue("user") != "operator" || r.PostFormValue("pass") != secretFormPassword {
				// as some web UIs do, the page shows what was typed
				http.Error(w, "wrong user or password: "+r.PostFormValue("user")+" / "+r.PostFormValue("pass"), http.StatusForbidden)
				return
			}
			http.SetCookie(w, &http.Cookie{Name: "sid", Value: secretSessionCookie, Path: "/", HttpOnly: true})
			http.Redirect(w, r, "/home", http.StatusSeeOther)
		},
		"GET /home": func(w http.ResponseWriter, r *http.Request) {
			if !session(r) {
				http.Redirect(w, r, "/login", http.StatusSeeOther)
				return
			}
			io.WriteString(w, "<html>welcome</html>")
		},
		"GET /reading": func(w http.ResponseWriter, r *http.Request) {
			if !session(r) {
				http.Error(w, "log in first", http.StatusUnauthorized)
				return
			}
			io.WriteString(w, `{"power": 512.5}`)
		},
	})
}

// schemeDevice is a device whose endpoint has the user name and password
// of the secrets user and pass (none: Anonymous), the trust list trust and
// the additionalConfiguration config, if any.
func schemeDevice(name, address, user, pass, trust, config string) string {
	auth := "\n          method: Anonymous"
	if pass != "" {
		auth = `
          method: UsernamePassword
          usernamePasswordCredentials:
            usernameSecretName: ` + user + `
            passwordSecretName: ` + pass
	}
	if trust != "" {
		auth += "\n        trustSettings:\n          trustList: " + trust
	}
	if config != "" {
		auth += "\n        additionalConfiguration: " + yamlString(config)
	}
	return fmt.Sprintf(`apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata:
  name: %s
spec:
  endpoints:
    inbound:
      http:
        address: %s
        endpointType: Microsoft.Http
        authentication:%s
`, name, address, auth)
}

// schemeAsset is an asset with one data point, point, read from source
// with the data point configuration config, if any.
func schemeAsset(name, point, source, config string) string {
	dp := "{name: " + point + ", dataSource: " + yamlString(source)
	if config != "" {
		dp += ", dataPointConfiguration: " + yamlString(config)
	}
	return fmt.Sprintf(`apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata:
  name: %[1]s
spec:
  deviceRef:
    deviceName: %[1]s
    endpointName: http
  datasets:
    - name: reading
      datasetConfiguration: '{"samplingInterval": 200}'
      dataPoints: [%[2]s}]
      destinations:
        - target: Mqtt
          configuration:
            topic: secrets/%[1]s
`, name, dp)
}

// yamlString is s as a YAML string on one line: JSON is YAML.
func yamlString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// A device that refuses a request may quote it in its answer, and some
// echo the token or key they were sent. The start of the answer goes into
// the error (fetch.StatusError's Snippet), which try prints and run logs:
// the secrets that static schemes put into headers and the query, and a
// data point's, are taken out of it, as the login and OAuth2 schemes take
// theirs (oauth2-wrong and form-login-wrong in TestSecretsNeverShow).
func TestEchoedStaticSecretsNeverShow(t *testing.T) {
	echo := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "refused: %q %q %q %q", r.Header.Get("Authorization"), r.Header.Get("X-API-Key"), r.Header.Get("X-Device-Key"), r.URL.RawQuery)
	}))
	t.Cleanup(echo.Close)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"secrets/creds/user":  secretUser,
		"secrets/creds/pass":  secretPassword,
		"secrets/keys/token":  secretBearerToken,
		"secrets/keys/header": secretHeaderKey,
		"secrets/keys/query":  secretQueryKey,
		"secrets/keys/point":  secretDataPointKey,
		"settings.yaml":       "secrets:\n  dir: " + filepath.Join(dir, "secrets") + "\n",
		"config/echo.yaml": strings.Join([]string{
			schemeDevice("basic", echo.URL, "creds/user", "creds/pass", "", ""),
			schemeAsset("basic", "v", "/v", ""),
			schemeDevice("bearer", echo.URL, "", "", "", `{"auth": {"type": "bearer", "token": "${secret:keys/token}"}}`),
			schemeAsset("bearer", "v", "/v", ""),
			schemeDevice("apikey-header", echo.URL, "", "", "", `{"auth": {"type": "apiKey", "name": "X-API-Key", "value": "${secret:keys/header}"}}`),
			schemeAsset("apikey-header", "v", "/v", ""),
			schemeDevice("apikey-query", echo.URL, "", "", "", `{"auth": {"type": "apiKey", "in": "query", "name": "api_key", "value": "${secret:keys/query}"}}`),
			schemeAsset("apikey-query", "v", "/v", ""),
			schemeDevice("datapoint-header", echo.URL, "", "", "", ""),
			schemeAsset("datapoint-header", "v", "/v", `{"headers": {"X-Device-Key": "${secret:keys/point}"}}`),
		}, "---\n"),
	})
	leaks := map[string]string{
		"the password":          secretPassword,
		"the Basic credentials": base64.StdEncoding.EncodeToString([]byte(secretUser + ":" + secretPassword)),
		"the bearer token":      secretBearerToken,
		"the header API key":    secretHeaderKey,
		"the query API key":     secretQueryKey,
		"the data point key":    secretDataPointKey,
	}
	for _, asset := range []string{"basic", "bearer", "apikey-header", "apikey-query", "datapoint-header"} {
		var stdout, stderr bytes.Buffer
		code := run(context.Background(), []string{"try", "--config", filepath.Join(dir, "config"), "--asset", asset},
			[]string{"HTTP_CONNECTOR_SETTINGS=" + filepath.Join(dir, "settings.yaml")}, &stdout, &stderr)
		out := stdout.String() + stderr.String()
		if code != exitFailure || !strings.Contains(out, "HTTP 401 Unauthorized: refused: ") {
			t.Errorf("try --asset %s: exit %d, want 1 and the device's refusal:\n%s", asset, code, out)
		}
		for what, secret := range leaks {
			if strings.Contains(out, secret) {
				t.Errorf("try --asset %s: %s appears in the output:\n%s", asset, what, out)
			}
		}
	}
}
