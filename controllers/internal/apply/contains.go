package apply

import "reflect"

// Contains reports whether have holds every field of want with an equal
// value. Maps may carry extra keys (defaults, other owners); lists must have
// the same length and each element must contain the wanted one, because the
// API server defaults fields inside list items (ports, containers) but never
// adds items to the lists our builders own.
func Contains(have, want any) bool {
	switch w := want.(type) {
	case map[string]any:
		h, ok := have.(map[string]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		for k, wv := range w {
			hv, ok := h[k]
			if !ok {
				if isEmpty(wv) {
					continue
				}
				return false
			}
			if !Contains(hv, wv) {
				return false
			}
		}
		return true
	case []any:
		h, ok := have.([]any)
		if !ok {
			return len(w) == 0 && have == nil
		}
		if len(h) != len(w) {
			return false
		}
		for i := range w {
			if !Contains(h[i], w[i]) {
				return false
			}
		}
		return true
	default:
		return scalarEqual(have, want)
	}
}

// isEmpty: the API server drops empty maps and lists, so their absence is
// not drift.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case map[string]any:
		for _, e := range x {
			if !isEmpty(e) {
				return false
			}
		}
		return true
	case []any:
		return len(x) == 0
	}
	return false
}

func scalarEqual(a, b any) bool {
	if af, ok := toFloat(a); ok {
		bf, ok := toFloat(b)
		return ok && af == bf
	}
	return reflect.DeepEqual(a, b)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case int:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

// dropNulls removes nil values, which typed structs emit for unset
// timestamps and which would otherwise mean "delete this field" in an apply.
func dropNulls(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if e == nil {
				delete(x, k)
				continue
			}
			x[k] = dropNulls(e)
		}
		return x
	case []any:
		for i := range x {
			x[i] = dropNulls(x[i])
		}
		return x
	}
	return v
}
