// Makes a controller running as a local process reachable through the
// apiserver's service proxy, as if it ran in a pod: the test cluster has no
// kubelet, so we create the Pod object ourselves and write its status (the
// apiserver only proxies to EndpointSlice addresses that belong to a Pod with
// that IP), plus the Service and the EndpointSlice.
//
// The apiserver refuses to proxy to loopback addresses, so the controller
// listens on the test sandbox's own address (sandboxAddress(), see
// network.ts), never on the machine's network interface.
import { isKubeError, MERGE_PATCH, type KubeHttp } from '../../shared/kube/http.ts';

export { sandboxAddress } from './network.ts';

async function create(http: KubeHttp, path: string, body: unknown): Promise<any> {
  try {
    return await http.request('POST', path, { body });
  } catch (err) {
    if (!isKubeError(err, 409)) throw err;
    return undefined;
  }
}

export async function exposeAsService(http: KubeHttp, opts: { namespace: string; service: string; portName: string; port: number; address: string; targetPort: number }): Promise<void> {
  const { namespace: ns, service } = opts;
  await create(http, '/api/v1/namespaces', { metadata: { name: ns } });
  await create(http, `/api/v1/namespaces/${ns}/serviceaccounts`, { metadata: { name: 'default' } });
  const podName = `${service}-local`;
  await create(http, `/api/v1/namespaces/${ns}/pods`, {
    metadata: { name: podName, labels: { 'app.kubernetes.io/name': service } },
    spec: { automountServiceAccountToken: false, containers: [{ name: 'controller', image: 'vault-sync-operator:local' }] },
  });
  const pod = await http.request('PATCH', `/api/v1/namespaces/${ns}/pods/${podName}/status`, {
    contentType: MERGE_PATCH,
    body: { status: { phase: 'Running', podIP: opts.address, podIPs: [{ ip: opts.address }], conditions: [{ type: 'Ready', status: 'True' }] } },
  });
  await create(http, `/api/v1/namespaces/${ns}/services`, {
    metadata: { name: service },
    spec: { ports: [{ name: opts.portName, port: opts.port, targetPort: opts.targetPort }] },
  });
  const slice = {
    metadata: { name: `${service}-local`, labels: { 'kubernetes.io/service-name': service } },
    addressType: 'IPv4',
    ports: [{ name: opts.portName, port: opts.targetPort, protocol: 'TCP' }],
    endpoints: [{ addresses: [opts.address], conditions: { ready: true }, targetRef: { kind: 'Pod', namespace: ns, name: podName, uid: pod.metadata.uid } }],
  };
  if (!(await create(http, `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices`, slice))) {
    await http.request('PATCH', `/apis/discovery.k8s.io/v1/namespaces/${ns}/endpointslices/${service}-local`, { body: slice, contentType: MERGE_PATCH });
  }
}
