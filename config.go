package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"

	"github.com/peekroute/peekroute/discovery"
	"github.com/peekroute/peekroute/engine"
	"github.com/peekroute/peekroute/extract"
	"github.com/peekroute/peekroute/hashring"
	"github.com/peekroute/peekroute/health"
	"github.com/peekroute/peekroute/internal/setting"
	"github.com/peekroute/peekroute/router"
)

// envPrefix starts the name of every variable peekroute reads.
const envPrefix = "PEEKROUTE_"

// settings is the environment as written; see the configuration table in
// README.md. Variables not set keep the defaults filled in by
// defaultSettings.
//
// A field tag names the package Config fields the variable sets, as
// package.Field (package.Outer.Inner for a nested one): when a package
// finds such a field out of range, blame reports its error against the
// variable.
type settings struct {
	ListenAddr  string        `env:"LISTEN_ADDR"`
	Backends    []string      `env:"BACKENDS" field:"router.Backends"`
	BackendsDNS string        `env:"BACKENDS_DNS" field:"discovery.Target"`
	DNSServer   string        `env:"DNS_SERVER" field:"discovery.Server"`
	DNSInterval time.Duration `env:"DNS_INTERVAL" field:"discovery.Interval"`
	Key         string        `env:"KEY" field:"router.Key"`
	PeekLimit   int           `env:"PEEK_LIMIT" field:"router.PeekLimit"`
	MissingKey  string        `env:"MISSING_KEY" field:"router.MissingKey"`
	LoadFactor  float64       `env:"LOAD_FACTOR" field:"router.Ring.Load"`
	Partitions  int           `env:"PARTITIONS" field:"router.Ring.Partitions"`
	Replication int           `env:"REPLICATION" field:"router.Ring.Replication"`

	HealthPath     string        `env:"HEALTH_PATH" field:"health.Path"`
	HealthInterval time.Duration `env:"HEALTH_INTERVAL" field:"health.Interval"`
	HealthTimeout  time.Duration `env:"HEALTH_TIMEOUT" field:"health.Timeout"`
	HealthRise     int           `env:"HEALTH_RISE" field:"health.Rise"`
	HealthFall     int           `env:"HEALTH_FALL" field:"health.Fall"`

	ReadHeaderTimeout time.Duration `env:"READ_HEADER_TIMEOUT"`
	IdleTimeout       time.Duration `env:"IDLE_TIMEOUT"`
	PeekTimeout       time.Duration `env:"PEEK_TIMEOUT"`
	MaxHeaderBytes    int           `env:"MAX_HEADER_BYTES"`
	MaxBody           int64         `env:"MAX_BODY"`
	BodyIdleTimeout   time.Duration `env:"BODY_IDLE_TIMEOUT"`
	MaxConns          int           `env:"MAX_CONNS"`

	BackendDialTimeout     time.Duration `env:"BACKEND_DIAL_TIMEOUT"`
	BackendResponseTimeout time.Duration `env:"BACKEND_RESPONSE_TIMEOUT"`
	BackendMaxIdleConns    int           `env:"BACKEND_MAX_IDLE_CONNS"`
	BackendMaxActive       int           `env:"BACKEND_MAX_ACTIVE"`
	BackendMaxQueue        int           `env:"BACKEND_MAX_QUEUE"`
	QueueTimeout           time.Duration `env:"QUEUE_TIMEOUT"`

	TLSCertFile   string `env:"TLS_CERT_FILE"`
	TLSKeyFile    string `env:"TLS_KEY_FILE"`
	BackendCAFile string `env:"BACKEND_CA_FILE"`

	LogFormat string `env:"LOG_FORMAT"`
	LogLevel  string `env:"LOG_LEVEL"`
	AccessLog bool   `env:"ACCESS_LOG"`
	LogKeys   bool   `env:"LOG_KEYS"`

	AdminAddr       string        `env:"ADMIN_ADDR"`
	ShutdownDelay   time.Duration `env:"SHUTDOWN_DELAY"`
	ShutdownTimeout time.Duration `env:"SHUTDOWN_TIMEOUT"`
}

func defaultSettings() settings {
	ring := hashring.DefaultConfig()
	checks := health.DefaultConfig()
	return settings{
		ListenAddr:  ":8080",
		DNSInterval: discovery.DefaultConfig().Interval,
		PeekLimit:   64 << 10,
		MissingKey:  "spread",
		LoadFactor:  ring.Load,
		Partitions:  ring.Partitions,
		Replication: ring.Replication,

		HealthInterval: checks.Interval,
		HealthTimeout:  checks.Timeout,
		HealthRise:     checks.Rise,
		HealthFall:     checks.Fall,

		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		PeekTimeout:       10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		BodyIdleTimeout:   30 * time.Second,
		MaxConns:          defaultMaxConns(),

		BackendDialTimeout:     5 * time.Second,
		BackendResponseTimeout: time.Minute,
		BackendMaxIdleConns:    256,
		BackendMaxQueue:        1024,
		QueueTimeout:           5 * time.Second,

		LogFormat: "json",
		LogLevel:  "info",

		AdminAddr:       ":9090",
		ShutdownDelay:   5 * time.Second,
		ShutdownTimeout: 30 * time.Second,
	}
}

// config is the validated configuration, ready to wire.
type config struct {
	keySpec         string // PEEKROUTE_KEY as written
	listenAddr      string
	tls             *tls.Config   // for the client listener; nil: plain HTTP
	engine          engine.Config // the data path's limits; main adds the policy and logger
	adminAddr       string
	router          router.Config
	discovery       *discovery.Config // nil: the backends are fixed
	health          health.Config
	log             logConfig
	shutdownDelay   time.Duration
	shutdownTimeout time.Duration
}

// configError names the variable at fault.
type configError struct {
	variable string
	problem  string
}

func (e *configError) Error() string { return envPrefix + e.variable + ": " + e.problem }

func badVar(variable, format string, args ...any) error {
	return &configError{variable: variable, problem: fmt.Sprintf(format, args...)}
}

// blame reports err, from validating the Config of package pkg, against
// the variable whose field tag names the field at fault; an error that
// names no field, or one no variable sets, is returned as it is.
func blame(pkg string, err error) error {
	var se *setting.Error
	if !errors.As(err, &se) {
		return err
	}
	st := reflect.TypeFor[settings]()
	for i := range st.NumField() {
		f := st.Field(i)
		if slices.Contains(strings.Split(f.Tag.Get("field"), ","), pkg+"."+se.Field) {
			return badVar(f.Tag.Get("env"), "%s", se.Problem)
		}
	}
	return err
}

// loadConfig reads and validates the PEEKROUTE_ variables in environ,
// refusing any it does not know.
func loadConfig(environ []string) (config, error) {
	if err := checkEnvironment(environ); err != nil {
		return config{}, err
	}
	s := defaultSettings()
	err := env.ParseWithOptions(&s, env.Options{Prefix: envPrefix, Environment: env.ToMap(environ)})
	if err != nil {
		return config{}, describeParseError(err)
	}
	return s.validate()
}

// describeParseError rewrites the first of env's errors to name the
// variable rather than the Go field.
func describeParseError(err error) error {
	var pe env.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	f, _ := reflect.TypeFor[settings]().FieldByName(pe.Name)
	return badVar(f.Tag.Get("env"), "not a valid %s: %v", pe.Type, unwrapAll(pe.Err))
}

func unwrapAll(err error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err
		}
		err = next
	}
}

func (s settings) validate() (config, error) {
	var c config
	var err error
	c.listenAddr = s.ListenAddr
	if err = s.validateBackends(&c); err != nil {
		return c, err
	}
	if err = s.routerConfig(&c.router); err != nil {
		return c, err
	}
	c.keySpec = s.Key
	if c.health, err = s.healthConfig(); err != nil {
		return c, err
	}
	if err = s.validateLimits(&c); err != nil {
		return c, err
	}
	if c.log, err = s.logging(); err != nil {
		return c, err
	}
	if err = s.loadTLS(&c); err != nil {
		return c, err
	}
	c.router.AccessLog, c.router.LogKeys = c.log.accessLog, c.log.logKeys
	return c, s.validateLifecycle(&c)
}

func (s settings) healthConfig() (health.Config, error) {
	hc := health.Config{Path: s.HealthPath, Interval: s.HealthInterval, Timeout: s.HealthTimeout, Rise: s.HealthRise, Fall: s.HealthFall}
	return hc, blame("health", hc.Validate())
}

// loadTLS reads the client listener's certificate and the CA that backend
// certificates are verified against.
func (s settings) loadTLS(c *config) error {
	switch {
	case (s.TLSCertFile == "") != (s.TLSKeyFile == ""):
		return badVar("TLS_CERT_FILE", "PEEKROUTE_TLS_CERT_FILE and PEEKROUTE_TLS_KEY_FILE go together")
	case s.TLSCertFile != "":
		cert, err := tls.LoadX509KeyPair(s.TLSCertFile, s.TLSKeyFile)
		if err != nil {
			return badVar("TLS_CERT_FILE", "%v", err)
		}
		// HTTP/1.1 only: the engine does not serve HTTP/2 yet.
		c.tls = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	if s.BackendCAFile != "" {
		pem, err := os.ReadFile(s.BackendCAFile)
		if err != nil {
			return badVar("BACKEND_CA_FILE", "%v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return badVar("BACKEND_CA_FILE", "no PEM certificate in %s", s.BackendCAFile)
		}
		c.engine.BackendTLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	return nil
}

// logging reads how peekroute logs.
func (s settings) logging() (logConfig, error) {
	lc := logConfig{format: s.LogFormat, accessLog: s.AccessLog, logKeys: s.LogKeys}
	if s.LogFormat != "json" && s.LogFormat != "text" {
		return lc, badVar("LOG_FORMAT", "want json or text, got %q", s.LogFormat)
	}
	if err := lc.level.UnmarshalText([]byte(s.LogLevel)); err != nil {
		return lc, badVar("LOG_LEVEL", "want debug, info, warn or error, got %q", s.LogLevel)
	}
	return lc, nil
}

func (s settings) validateLimits(c *config) error {
	switch {
	case s.ReadHeaderTimeout <= 0:
		return badVar("READ_HEADER_TIMEOUT", "must be positive, got %v", s.ReadHeaderTimeout)
	case s.IdleTimeout <= 0:
		return badVar("IDLE_TIMEOUT", "must be positive, got %v", s.IdleTimeout)
	case s.PeekTimeout <= 0:
		return badVar("PEEK_TIMEOUT", "must be positive, got %v", s.PeekTimeout)
	case s.MaxHeaderBytes < 4<<10 || s.MaxHeaderBytes > 16<<20:
		return badVar("MAX_HEADER_BYTES", "must be from 4096 to %d, got %d", 16<<20, s.MaxHeaderBytes)
	case s.MaxBody < 0:
		return badVar("MAX_BODY", "must be 0 (no limit) or positive, got %d", s.MaxBody)
	case s.BodyIdleTimeout <= 0:
		return badVar("BODY_IDLE_TIMEOUT", "must be positive, got %v", s.BodyIdleTimeout)
	case s.MaxConns < 1:
		return badVar("MAX_CONNS", "must be at least 1, got %d", s.MaxConns)
	case s.BackendDialTimeout <= 0:
		return badVar("BACKEND_DIAL_TIMEOUT", "must be positive, got %v", s.BackendDialTimeout)
	case s.BackendResponseTimeout < 0:
		return badVar("BACKEND_RESPONSE_TIMEOUT", "must be 0 (no limit) or positive, got %v", s.BackendResponseTimeout)
	case s.BackendMaxIdleConns < 1:
		return badVar("BACKEND_MAX_IDLE_CONNS", "must be at least 1, got %d", s.BackendMaxIdleConns)
	case s.BackendMaxActive < 0:
		return badVar("BACKEND_MAX_ACTIVE", "must be 0 (no limit) or positive, got %d", s.BackendMaxActive)
	case s.BackendMaxQueue < 0:
		return badVar("BACKEND_MAX_QUEUE", "must be 0 (no waiting) or positive, got %d", s.BackendMaxQueue)
	case s.QueueTimeout <= 0:
		return badVar("QUEUE_TIMEOUT", "must be positive, got %v", s.QueueTimeout)
	}
	c.engine = engine.Config{
		ReadHeaderTimeout: s.ReadHeaderTimeout,
		IdleTimeout:       s.IdleTimeout,
		PeekTimeout:       s.PeekTimeout,
		BodyIdleTimeout:   s.BodyIdleTimeout,
		MaxHeaderBytes:    s.MaxHeaderBytes,
		MaxBody:           s.MaxBody,
		PeekLimit:         s.PeekLimit,
		MaxConns:          s.MaxConns,
		DialTimeout:       s.BackendDialTimeout,
		ResponseTimeout:   s.BackendResponseTimeout,
		MaxIdlePerBackend: s.BackendMaxIdleConns,
		IdleConnTimeout:   90 * time.Second,
		MaxActive:         s.BackendMaxActive,
		MaxQueue:          s.BackendMaxQueue,
		QueueTimeout:      s.QueueTimeout,
	}
	return nil
}

func (s settings) validateLifecycle(c *config) error {
	c.adminAddr = s.AdminAddr
	c.shutdownDelay, c.shutdownTimeout = s.ShutdownDelay, s.ShutdownTimeout
	switch {
	case s.AdminAddr == "":
		return badVar("ADMIN_ADDR", "required: where /healthz and /readyz are served, e.g. :9090")
	case s.AdminAddr == s.ListenAddr && !strings.HasSuffix(s.ListenAddr, ":0"):
		return badVar("ADMIN_ADDR", "must differ from PEEKROUTE_LISTEN_ADDR (%s)", s.ListenAddr)
	case s.ShutdownDelay < 0:
		return badVar("SHUTDOWN_DELAY", "must not be negative, got %v", s.ShutdownDelay)
	case s.ShutdownTimeout <= 0:
		return badVar("SHUTDOWN_TIMEOUT", "must be positive, got %v", s.ShutdownTimeout)
	}
	return nil
}

// validateBackends takes the backends from PEEKROUTE_BACKENDS, or the name
// to discover them from in PEEKROUTE_BACKENDS_DNS.
func (s settings) validateBackends(c *config) error {
	switch {
	case len(s.Backends) > 0 && s.BackendsDNS != "":
		return badVar("BACKENDS_DNS", "set either it or PEEKROUTE_BACKENDS, not both")
	case s.BackendsDNS == "":
		if len(s.Backends) == 0 {
			return badVar("BACKENDS", "required (or PEEKROUTE_BACKENDS_DNS): a comma-separated list of http:// or https:// URLs")
		}
		var err error
		if c.router.Backends, err = router.ParseBackends(s.Backends); err != nil {
			return badVar("BACKENDS", "%v", err)
		}
		return nil
	}
	dc := discovery.DefaultConfig()
	dc.Target, dc.Server, dc.Interval = s.BackendsDNS, s.DNSServer, s.DNSInterval
	if err := dc.Validate(); err != nil {
		return blame("discovery", err)
	}
	c.discovery = &dc
	return nil
}

// routerConfig fills in where the key is, the peek limit, the missing-key
// policy and the ring's shape, next to the backends already in rc, and has
// the router check them all.
func (s settings) routerConfig(rc *router.Config) error {
	if strings.TrimSpace(s.Key) == "" {
		return badVar("KEY", "required: where the key is, e.g. xml:sessionId or header:X-Session-Id,json:session.id")
	}
	var err error
	if rc.Key, err = extract.ParseSources(s.Key); err != nil {
		return badVar("KEY", "%v", err)
	}
	if rc.MissingKey, err = router.ParseMissingKeyPolicy(s.MissingKey); err != nil {
		return badVar("MISSING_KEY", "%v", err)
	}
	rc.PeekLimit = s.PeekLimit
	rc.Ring = hashring.Config{Partitions: s.Partitions, Replication: s.Replication, Load: s.LoadFactor}
	return blame("router", rc.Validate())
}
