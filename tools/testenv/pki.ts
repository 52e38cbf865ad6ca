// Throwaway PKI for the test apiserver: a CA, a serving certificate for
// 127.0.0.1/localhost, an admin client certificate in system:masters, the
// apiserver's client certificate for kubelets, the service-account signing
// key pair, and (issueCertificate) certificates for the node profile. Made with the openssl CLI because Node's
// crypto can make keys but not certificates.
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface Pki {
  caCert: string;
  caKey: string;
  serverCert: string;
  serverKey: string;
  adminCert: string;
  adminKey: string;
  kubeletClientCert: string;
  kubeletClientKey: string;
  serviceAccountKey: string;
  serviceAccountPub: string;
}

function openssl(dir: string, args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
}

function issue(dir: string, name: string, subject: string, extensions: string): void {
  openssl(dir, ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', subject]);
  writeFileSync(join(dir, `${name}.ext`), extensions);
  openssl(dir, ['x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.crt', '-CAkey', 'ca.key', '-CAcreateserial',
    '-days', '30', '-out', `${name}.crt`, '-extfile', `${name}.ext`]);
}

/**
 * A certificate signed by the PKI's CA in `dir`: a client certificate (e.g. a
 * kubelet's system:node:<name> in system:nodes) or, with `serverSans`, a
 * serving one. Returns the certificate and key paths.
 */
export function issueCertificate(dir: string, name: string, subject: string, opts: { serverSans?: string[] } = {}): { cert: string; key: string } {
  const usage = opts.serverSans
    ? `extendedKeyUsage=serverAuth,clientAuth\nsubjectAltName=${opts.serverSans.join(',')}\n`
    : 'extendedKeyUsage=clientAuth\n';
  issue(dir, name, subject, `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n${usage}`);
  return { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
}

export function createPki(dir: string, serverSans: string[]): Pki {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=vault-sync-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  issue(dir, 'server', '/CN=kube-apiserver',
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${serverSans.join(',')}\n`);
  issueCertificate(dir, 'admin', '/O=system:masters/CN=test-admin');
  // The apiserver's own client certificate towards kubelets (logs, exec, port-forward).
  issueCertificate(dir, 'apiserver-kubelet-client', '/O=system:masters/CN=kube-apiserver-kubelet-client');
  openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key']);
  openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  const at = (f: string) => join(dir, f);
  return {
    caCert: at('ca.crt'), caKey: at('ca.key'),
    serverCert: at('server.crt'), serverKey: at('server.key'),
    adminCert: at('admin.crt'), adminKey: at('admin.key'),
    kubeletClientCert: at('apiserver-kubelet-client.crt'), kubeletClientKey: at('apiserver-kubelet-client.key'),
    serviceAccountKey: at('sa.key'), serviceAccountPub: at('sa.pub'),
  };
}
