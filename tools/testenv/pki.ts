// Throwaway PKI for the test apiserver: a CA, a serving certificate for
// 127.0.0.1/localhost, an admin client certificate in system:masters, and the
// service-account signing key pair. Made with the openssl CLI because Node's
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

export function createPki(dir: string, serverSans: string[]): Pki {
  openssl(dir, ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', 'ca.key', '-out', 'ca.crt', '-days', '30', '-subj', '/CN=vault-sync-test-ca',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  issue(dir, 'server', '/CN=kube-apiserver',
    `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=${serverSans.join(',')}\n`);
  issue(dir, 'admin', '/O=system:masters/CN=test-admin',
    'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=clientAuth\n');
  openssl(dir, ['genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', 'sa.key']);
  openssl(dir, ['pkey', '-in', 'sa.key', '-pubout', '-out', 'sa.pub']);
  const at = (f: string) => join(dir, f);
  return {
    caCert: at('ca.crt'), caKey: at('ca.key'),
    serverCert: at('server.crt'), serverKey: at('server.key'),
    adminCert: at('admin.crt'), adminKey: at('admin.key'),
    serviceAccountKey: at('sa.key'), serviceAccountPub: at('sa.pub'),
  };
}
