package apply

import (
	"context"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"reflect"
	"strconv"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// HashAnnotation holds the hash of the last applied desired object.
const HashAnnotation = "mesh.wayfabric.io/applied-hash"

// Outcome says what Ensure did.
type Outcome string

const (
	// Unchanged: the live object already matched; nothing was written.
	Unchanged Outcome = "Unchanged"
	// Created: the object did not exist and was created.
	Created Outcome = "Created"
	// Updated: the object existed and was re-applied (spec change or drift).
	Updated Outcome = "Updated"
)

// Applier applies desired objects as FieldOwner. Reader should be the
// manager's cached client so that unchanged objects cost no API call.
type Applier struct {
	Client     client.Client
	FieldOwner string
}

// Ensure makes the cluster hold desired. desired must be a typed object with
// apiVersion and kind set; its status is ignored. On success desired is
// replaced by the live object (from the cache, or the apply response), so
// callers can read its status without another request.
func (a *Applier) Ensure(ctx context.Context, desired client.Object) (Outcome, error) {
	want, err := Desired(desired)
	if err != nil {
		return "", err
	}
	live, ok := desired.DeepCopyObject().(client.Object)
	if !ok {
		return "", fmt.Errorf("%T is not a client.Object", desired)
	}
	outcome := Updated
	if err := a.Client.Get(ctx, client.ObjectKeyFromObject(desired), live); err != nil {
		if !apierrors.IsNotFound(err) {
			return "", fmt.Errorf("reading %s %s: %w", want.GetKind(), describe(desired), err)
		}
		outcome = Created
	} else {
		have, err := runtime.DefaultUnstructuredConverter.ToUnstructured(live)
		if err != nil {
			return "", fmt.Errorf("converting live %s %s: %w", want.GetKind(), describe(desired), err)
		}
		if UpToDate(have, want.Object) {
			reflect.ValueOf(desired).Elem().Set(reflect.ValueOf(live).Elem())
			return Unchanged, nil
		}
	}
	kind, name := want.GetKind(), describe(desired)
	if err := a.Client.Apply(ctx, client.ApplyConfigurationFromUnstructured(want),
		client.FieldOwner(a.FieldOwner), client.ForceOwnership); err != nil {
		return "", fmt.Errorf("applying %s %s: %w", kind, name, err)
	}
	// want now holds the API server's response.
	fresh := reflect.New(reflect.TypeOf(desired).Elem())
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(want.Object, fresh.Interface()); err != nil {
		return "", fmt.Errorf("reading the applied %s %s: %w", kind, name, err)
	}
	reflect.ValueOf(desired).Elem().Set(fresh.Elem())
	return outcome, nil
}

// Desired converts a typed object into the apply body: nulls, status and
// server-set metadata dropped, and the hash annotation added.
func Desired(obj client.Object) (*unstructured.Unstructured, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("converting %T: %w", obj, err)
	}
	delete(m, "status")
	m = dropNulls(m).(map[string]any)
	u := &unstructured.Unstructured{Object: m}
	if u.GetAPIVersion() == "" || u.GetKind() == "" {
		return nil, fmt.Errorf("%T %s has no apiVersion/kind: builders must set TypeMeta", obj, describe(obj))
	}
	h, err := hashOf(m)
	if err != nil {
		return nil, err
	}
	ann := u.GetAnnotations()
	if ann == nil {
		ann = map[string]string{}
	}
	ann[HashAnnotation] = h
	u.SetAnnotations(ann)
	return u, nil
}

// UpToDate reports whether the live object (as a map) carries the desired
// object's hash and every field the desired object sets.
func UpToDate(live, want map[string]any) bool {
	body := map[string]any{}
	for k, v := range want {
		switch k {
		case "apiVersion", "kind":
		case "metadata":
			meta, _ := v.(map[string]any)
			sub := map[string]any{}
			for _, f := range []string{"labels", "annotations", "ownerReferences"} {
				if x, ok := meta[f]; ok {
					sub[f] = x
				}
			}
			body["metadata"] = sub
		default:
			body[k] = v
		}
	}
	return Contains(live, body)
}

func hashOf(m map[string]any) (string, error) {
	// encoding/json sorts map keys, so equal objects hash equally.
	b, err := json.Marshal(m)
	if err != nil {
		return "", fmt.Errorf("hashing desired object: %w", err)
	}
	h := fnv.New64a()
	_, _ = h.Write(b)
	return strconv.FormatUint(h.Sum64(), 36), nil
}

func describe(obj client.Object) string {
	if obj.GetNamespace() == "" {
		return obj.GetName()
	}
	return obj.GetNamespace() + "/" + obj.GetName()
}
