// Package notmain is not a command: hack/images must skip it.
package notmain
