// Validates CASE/UCO JSON-LD against the SHACL shapes of UCO 1.4 and CASE 1.4 kept in ontology/ (no network).
// As CASE's own validator does, the data graph is the document plus the ontologies, so that sh:class and
// sh:targetClass see rdfs:subClassOf (an observable:Image is a core:UcoObject). The RDF libraries are loaded here
// only, by dynamic import, so an acquisition that does not ask for CASE never pays for them.
// rdf-validate-shacl has no SHACL-SPARQL. Of UCO 1.4's 13 sh:sparql constraints, 8 (owl.ttl) judge ontologies and
// 2 (types.ttl) dictionaries, which memimage never writes; the 3 of core.ttl are checked here by hand
// (sparqlCoreChecks), and every sh:sparql is taken out of the shapes given to the validator.
import type * as RDF from "@rdfjs/types";
import { ontologyFiles } from "./ontology-files.js";

export interface CaseViolation {
  severity: string;
  focusNode: string;
  path: string | undefined;
  message: string;
}

export interface CaseValidation {
  conforms: boolean;
  /** Results of severity sh:Violation; warnings and infos are in `notes`. */
  violations: CaseViolation[];
  notes: CaseViolation[];
}

let ontology: Promise<RDF.Quad[]> | undefined;

async function ontologyQuads(): Promise<RDF.Quad[]> {
  const { Parser } = await import("n3");
  const quads: RDF.Quad[] = [];
  for (const { baseIRI, turtle } of await ontologyFiles())
    quads.push(...new Parser({ baseIRI }).parse(turtle));
  return quads;
}

/** Parses JSON-LD (context inline; remote contexts are refused) into quads. */
export async function jsonLdQuads(document: unknown): Promise<RDF.Quad[]> {
  const { JsonLdParser } = await import("jsonld-streaming-parser");
  const parser = new JsonLdParser({
    documentLoader: {
      load: (url: string) => Promise.reject(new Error(`remote JSON-LD context ${url} refused: no network`)),
    },
  });
  const quads: RDF.Quad[] = [];
  return new Promise((resolve, reject) => {
    parser.on("data", (q: RDF.Quad) => quads.push(q));
    parser.on("error", reject);
    parser.on("end", () => resolve(quads));
    parser.write(JSON.stringify(document));
    parser.end();
  });
}

export async function validateCase(document: unknown): Promise<CaseValidation> {
  ontology ??= ontologyQuads();
  const [shapes, data, { default: SHACLValidator }, { Store }] = await Promise.all([
    ontology,
    jsonLdQuads(document),
    import("rdf-validate-shacl"),
    import("n3"),
  ]);
  const shapesGraph = new Store(shapes.filter((q) => q.predicate.value !== `${SH}sparql`));
  const dataGraph = new Store([...shapes, ...data]);
  // Every imported ontology is already in the shapes graph: owl:imports resolve to nothing more.
  const validator = new SHACLValidator(shapesGraph, { importGraph: () => new Store() });
  const report = await validator.validate(dataGraph);
  const results = report.results.map((r) => ({
    severity: r.severity?.value.replace("http://www.w3.org/ns/shacl#", "") ?? "Violation",
    focusNode: r.focusNode?.value ?? "",
    path: r.path && "value" in r.path ? String(r.path.value) : undefined,
    message: r.message.map((m) => m.value).join("; ") || (r.sourceConstraintComponent?.value ?? "violation"),
  }));
  results.push(...sparqlCoreChecks(data));
  const violations = results.filter((r) => r.severity === "Violation");
  return {
    conforms: violations.length === 0,
    violations,
    notes: results.filter((r) => r.severity !== "Violation"),
  };
}

const SH = "http://www.w3.org/ns/shacl#";
const HAS_FACET = "https://ontology.unifiedcyberontology.org/uco/core/hasFacet";
const UUID_END = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** UCO core.ttl's three SPARQL constraints, on the document's own quads. */
function sparqlCoreChecks(data: readonly RDF.Quad[]): CaseViolation[] {
  const results: CaseViolation[] = [];
  const typed = new Set<string>();
  for (const q of data) {
    if (q.predicate.value !== "http://www.w3.org/1999/02/22-rdf-syntax-ns#type") continue;
    const key = `${q.subject.termType} ${q.subject.value}`;
    if (typed.has(key)) continue;
    typed.add(key);
    if (q.subject.termType === "BlankNode")
      results.push({
        severity: "Violation",
        focusNode: `_:${q.subject.value}`,
        path: undefined,
        message: "UcoThings are required to not be blank nodes.",
      });
    else if (!UUID_END.test(q.subject.value))
      results.push({
        severity: "Warning",
        focusNode: q.subject.value,
        path: undefined,
        message: "UcoThings are suggested to end with a UUID.",
      });
  }
  const facetOwner = new Map<string, string>();
  for (const q of data) {
    if (q.predicate.value !== HAS_FACET) continue;
    const owner = facetOwner.get(q.object.value);
    if (owner !== undefined && owner !== q.subject.value)
      results.push({
        severity: "Violation",
        focusNode: q.object.value,
        path: HAS_FACET,
        message: "hasFacet must not be used to link two objects to one Facet.",
      });
    facetOwner.set(q.object.value, q.subject.value);
  }
  return results;
}
