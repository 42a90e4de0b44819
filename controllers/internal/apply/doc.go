// Package apply writes owned objects with server-side apply under one field
// owner, and only when the object in the cache differs from the desired one,
// so a steady-state reconcile makes no API writes at all.
//
// "Differs" is decided by two checks, both needed:
//   - every field the builder sets is present with the same value in the live
//     object (catches drift: someone edited or removed a field we own);
//   - the hash of the desired object, stored in the annotation HashAnnotation,
//     matches (catches fields the builder stopped setting, which the first
//     check cannot see but server-side apply then removes).
package apply
