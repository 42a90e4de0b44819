package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"

	"github.com/wayfabric/wayfabric/proxy/ztunnel/cni"
)

// apiClient reads labels from the API server with plain HTTP and the
// ztunnel's token: client-go would make this binary several times larger
// for two GETs.
type apiClient struct {
	access *cni.APIAccess
	http   *http.Client
}

func newAPIClient(kubeconfig string, timeout time.Duration) (*apiClient, error) {
	access, err := cni.ReadKubeconfig(kubeconfig)
	if err != nil {
		return nil, err
	}
	return &apiClient{access: access, http: &http.Client{
		Timeout: timeout,
		// No proxy from the runtime's environment: the API server is
		// reached directly, like the kubelet does.
		Transport: &http.Transport{TLSClientConfig: access.TLS, Proxy: nil},
	}}, nil
}

type objectMeta struct {
	Metadata struct {
		Labels map[string]string `json:"labels"`
	} `json:"metadata"`
}

// labels returns an object's labels; found is false when it does not exist.
func (c *apiClient) labels(ctx context.Context, path string) (labels map[string]string, found bool, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.access.Server+path, nil)
	if err != nil {
		return nil, false, err
	}
	req.Header.Set("Accept", "application/json")
	if c.access.Token != "" {
		req.Header.Set("Authorization", "Bearer "+c.access.Token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, false, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", path, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, false, nil
	default:
		var status struct {
			Message string `json:"message"`
		}
		_ = json.Unmarshal(body, &status) // a body that is no Status leaves the message empty
		return nil, false, fmt.Errorf("GET %s: %s: %s", path, resp.Status, status.Message)
	}
	var obj objectMeta
	if err := json.Unmarshal(body, &obj); err != nil {
		return nil, false, fmt.Errorf("GET %s: %w", path, err)
	}
	return obj.Metadata.Labels, true, nil
}

// podAndNamespaceLabels fetches both label sets a pod's enrollment
// depends on. A pod that is not found (deleted meanwhile, or a static pod
// without its mirror yet) is judged by its namespace alone.
func (c *apiClient) podAndNamespaceLabels(ctx context.Context, ns, name string) (pod, namespace map[string]string, err error) {
	nsPath := "/api/v1/namespaces/" + url.PathEscape(ns)
	pod, _, err = c.labels(ctx, nsPath+"/pods/"+url.PathEscape(name))
	if err != nil {
		return nil, nil, err
	}
	namespace, _, err = c.labels(ctx, nsPath)
	if err != nil {
		return nil, nil, err
	}
	return pod, namespace, nil
}
