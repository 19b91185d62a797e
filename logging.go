package main

import (
	"io"
	"log/slog"
)

// logConfig says how peekroute logs.
type logConfig struct {
	format    string // json or text
	level     slog.Level
	accessLog bool
	logKeys   bool
}

func newLogger(cfg logConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.level}
	if cfg.format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}
