//go:build race

package router

func race() bool { return true }
