// Finds the Secrets a pod template references. Pure.
//
// Sources: env[].valueFrom.secretKeyRef, envFrom[].secretRef, volumes[].secret
// and projected volume sources, in containers, initContainers and
// ephemeralContainers. A Secret referenced several times is required if any
// reference is required; the keys named by secretKeyRef (and volume items)
// are collected so that a required key that is missing can be reported.
//
// Only the shapes used here are typed, so the extension and controller can
// pass objects from any client library version.

interface KeyRef { name?: string; key?: string; optional?: boolean }
interface Container {
  env?: { name?: string; valueFrom?: { secretKeyRef?: KeyRef } }[];
  envFrom?: { secretRef?: { name?: string; optional?: boolean } }[];
}
interface Volume {
  name?: string;
  secret?: { secretName?: string; optional?: boolean; items?: { key?: string }[] };
  projected?: { sources?: { secret?: { name?: string; optional?: boolean; items?: { key?: string }[] } }[] };
}
export interface PodSpecLike {
  containers?: (Container & { name?: string })[];
  initContainers?: (Container & { name?: string })[];
  ephemeralContainers?: (Container & { name?: string })[];
  volumes?: Volume[];
}

export interface SecretReference {
  name: string;
  /** False when at least one reference is required. */
  optional: boolean;
  /** Keys that required references name explicitly (a missing one is an error). */
  requiredKeys: Set<string>;
  /** Where it is referenced, for messages: "containers[app].env[DB_PASS]". */
  via: string[];
}

export function discoverSecretReferences(spec: PodSpecLike | undefined): Map<string, SecretReference> {
  const refs = new Map<string, SecretReference>();
  const add = (name: string | undefined, optional: boolean | undefined, via: string, keys: (string | undefined)[] = []) => {
    if (!name) return;
    const ref = refs.get(name) ?? { name, optional: true, requiredKeys: new Set<string>(), via: [] };
    const isOptional = optional === true;
    ref.optional &&= isOptional;
    if (!isOptional) for (const k of keys) if (k) ref.requiredKeys.add(k);
    ref.via.push(via);
    refs.set(name, ref);
  };
  const groups = [['containers', spec?.containers], ['initContainers', spec?.initContainers], ['ephemeralContainers', spec?.ephemeralContainers]] as const;
  for (const [group, containers] of groups) {
    (containers ?? []).forEach((c, ci) => {
      const at = `${group}[${c.name ?? ci}]`;
      (c.env ?? []).forEach((e, ei) => {
        const ref = e.valueFrom?.secretKeyRef;
        if (ref) add(ref.name, ref.optional, `${at}.env[${e.name ?? ei}]`, [ref.key]);
      });
      (c.envFrom ?? []).forEach((e, ei) => {
        if (e.secretRef) add(e.secretRef.name, e.secretRef.optional, `${at}.envFrom[${ei}]`);
      });
    });
  }
  (spec?.volumes ?? []).forEach((v, vi) => {
    const at = `volumes[${v.name ?? vi}]`;
    if (v.secret) add(v.secret.secretName, v.secret.optional, at, (v.secret.items ?? []).map((i) => i.key));
    (v.projected?.sources ?? []).forEach((s, si) => {
      if (s.secret) add(s.secret.name, s.secret.optional, `${at}.projected.sources[${si}]`, (s.secret.items ?? []).map((i) => i.key));
    });
  });
  return refs;
}
