// Package health knows whether each backend is up.
//
// A Checker checks every target on its own schedule, either by opening a
// TCP connection to the target's host and port or by an HTTP GET of a path
// that must answer 2xx or 3xx, and also takes passive reports of failed
// connections on real requests. Both feed the same counters: Rise
// consecutive successes bring a target up, Fall consecutive failures take it
// down, and any opposite result resets the count, so a target that flaps
// faster than that keeps its state. The first check of a target decides its
// initial state directly.
//
// At start-up the first round of checks runs at once for every target;
// Ready fires when it has completed. After that, every change of the healthy
// set (the sorted names of the targets that are up) is delivered to the
// OnChange callback, in order, from a single goroutine.
//
// What health reports to operators lives here too: Checker.Collector
// exports each target's state as peekroute_backend_up, and a History, fed
// by OnTransition, counts transitions and keeps the latest ones.
//
// health must never know about rings, keys or request routing: it reports
// the healthy set and the caller decides what to do with it.
package health
