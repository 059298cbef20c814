package io.lookalike.solr;

import java.util.Collections;
import java.util.Map;
import org.apache.solr.common.SolrException;
import org.apache.solr.common.SolrException.ErrorCode;
import org.apache.solr.request.SolrQueryRequest;
import org.apache.solr.util.ErrorLogMuter;
import org.junit.BeforeClass;
import org.junit.Test;

/** Every kind of bad input is a 400 whose message names the field or parameter at fault. */
public class BadInputTest extends AbstractVisualTestCase {

  @BeforeClass
  public static void indexFewDocuments() throws Exception {
    initTestCore();
    assertU(adoc("id", "a1", "category", "red", "pca_version", "m1", "vec4", "[1, 0, 0, 0]"));
    assertU(adoc("id", "a2", "category", "red", "pca_version", "m1"));
    assertU(adoc("id", "b1", "pca_version", "m1", "vec4", "[0, 0, 1, 0]"));
    // huge but valid: a squared norm of 1.6e37, below 2^124
    assertU(adoc("id", "huge", "vec16", "[" + String.join(",", Collections.nCopies(16, "1e18")) + "]"));
    assertU(adoc("id", "old", "pca_version", "m0", "vec4", "[0, 1, 0, 0]"));
    assertU(commit());
    assertU(delI("old")); // a deleted document of another model must not count
    assertU(commit());
  }

  @Test
  public void testBadVectorsAtIndexTime() {
    assertIndexError("[1, 2, 3]", "[doc=bad] vec4: expected 4 floats, got 3");
    assertIndexError("[1, 2, 3, 4, 5]", "[doc=bad] vec4: expected 4 floats, got 5");
    assertIndexError("[1, \"x\", 3, 4]", "[doc=bad] vec4: component 1 is not a number: 'x'");
    assertIndexError("\"[1, Infinity, 3, 4]\"", "[doc=bad] vec4: component 1 is Infinity");
    String nan = VectorFormat.toBase64(new float[] {1, 2, Float.NaN, 4});
    assertIndexError('"' + nan + '"', "[doc=bad] vec4: component 2 is NaN");
    assertIndexError("\"AAC*AAAA\"", "[doc=bad] vec4: malformed base64");
    assertIndexError("\"AACAPwAA\"", "[doc=bad] vec4: byte length 6 is not a multiple of 4");
    assertIndexError("{\"set\": [1, 2]}", "[doc=bad] vec4: expected 4 floats, got 2");
    // and through the XML loader, where an array is a repeated field
    try (ErrorLogMuter expected = ErrorLogMuter.substring("[doc=bad]")) {
      assertFailedU(adoc("id", "bad", "vec4", "1", "vec4", "2"));
    }
    assertQ(req("q", "id:bad"), "//result[@numFound='0']");
  }

  /** Components and squared norms that could overflow a float32 distance, named by component. */
  @Test
  public void testVectorsThatCouldOverflowADistanceAreRefused() {
    assertIndexError(
        "[1e19, 0, 0, 0]",
        "[doc=bad] vec4: component 0 is 1.0E19; components are at most 4.611686E18 (2^62)");
    assertIndexError(
        "[4e18, 4e18, 4e18, 4e18]",
        "[doc=bad] vec4: the squared norm exceeds 2.1267648E37 (2^124) at component 1");
    assertQueryError("v: component 2 is -1.0E19", "q", "{!visual f=vec4}[0, 0, -1e19, 0]");
    assertQueryError(
        "v: the squared norm exceeds 2.1267648E37 (2^124) at component 1",
        "q",
        "{!visual f=vec4 v=$qv}",
        "qv",
        "[4e18, 4e18, 4e18, 4e18]");
    assertQueryError(
        "sqdist: component 0 is 1.0E19", "q", "*:*", "fl", "sqdist(vec4, \"[1e19, 0, 0, 0]\")");
    // a and b are 1 apart: a weight of 1e19 takes the query point to about 1e19
    assertQueryError(
        "unlikeWeight: weight '1.0E19' moves the query point out of range (its squared norm exceeds"
            + " 2^124 at component 0",
        "q",
        "{!visual f=vec4 like=a1 unlike=b1 unlikeWeight=1e19}");
  }

  /** At the bounds, distances (and scores) are still finite, JSON numbers. */
  @Test
  public void testHugeButValidVectorsGiveFiniteDistances() throws Exception {
    String opposite = "[" + String.join(",", Collections.nCopies(16, "-1e18")) + "]";
    for (String score : new String[] {"rank", "similarity"}) {
      Map<String, Object> response =
          select(
              "q", "{!visual f=vec16 score=" + score + " v=$qv}",
              "qv", opposite,
              "fl", "id,score,d:sqdist(vec16,$qv)");
      Map<String, Object> doc = docs(response).get(0);
      assertEquals("huge", doc.get("id"));
      assertEquals(6.4e37, doubleField(doc, "d"), 6.4e37 * 1e-6);
      assertTrue(doc.toString(), doubleField(doc, "score") > 0);
      assertTrue(doc.toString(), Double.isFinite(doubleField(doc, "score")));
    }
  }

  @Test
  public void testBadQueryVectors() {
    assertQueryError("v: expected 4 floats, got 3", "q", "{!visual f=vec4}[1, 2, 3]");
    assertQueryError("v: component 1 is NaN", "q", "{!visual f=vec4 v=$qv}", "qv", "[1,NaN,0,0]");
    assertQueryError(
        "v: component 3 is Infinity", "q", "{!visual f=vec4 v=$qv}", "qv", "[1,0,0,Infinity]");
    assertQueryError(
        "v: component 1 is not a number: 'a'", "q", "{!visual f=vec4 v=$qv}", "qv", "[1,a,0,0]");
    assertQueryError("v: malformed base64", "q", "{!visual f=vec4 v=$qv}", "qv", "@@@@");
    assertQueryError("v: malformed array", "q", "{!visual f=vec4 v=$qv}", "qv", "[1, 2, 3, 4");
  }

  @Test
  public void testBadFieldAndParameters() {
    assertQueryError("f: missing", "q", "{!visual}[1, 2, 3, 4]");
    assertQueryError("f: no such field 'nope'", "q", "{!visual f=nope}[1, 2, 3, 4]");
    assertQueryError(
        "f: field 'category' is of type string, not an ImageVectorField",
        "q",
        "{!visual f=category}[1, 2, 3, 4]");
    assertQueryError("v, id, like, weights: ", "q", "{!visual f=vec4 id=a1}[1, 2, 3, 4]");
    assertQueryError("got 2", "q", "{!visual f=vec4 id=a1}[1, 2, 3, 4]");
    assertQueryError("got 2", "q", "{!visual f=vec4 id=a1 like=a1}");
    assertQueryError("got none", "q", "{!visual f=vec4 v=$absent}");
    assertQueryError("got none", "q", "{!visual f=vec4 unlike=a1}");
    for (String maxDist : new String[] {"abc", "-1", "NaN", "Infinity", ""}) {
      assertQueryError(
          "maxDist: expected a finite squared distance >= 0, got '" + maxDist + "'",
          "q",
          "{!visual f=vec4 maxDist='" + maxDist + "'}[1, 2, 3, 4]");
    }
  }

  @Test
  public void testBadWeightsAndBias() {
    String q = "{!visual f=vec4 weights=$w}";
    assertQueryError("weights: expected 4 floats, got 3", "q", q, "w", "[1, 2, 3]");
    assertQueryError("weights: component 1 is NaN", "q", q, "w", "[1, NaN, 0, 0]");
    assertQueryError("weights: component 3 is Infinity", "q", q, "w", "[1, 0, 0, Infinity]");
    assertQueryError("weights: component 1 is not a number: 'a'", "q", q, "w", "[1, a, 0, 0]");
    assertQueryError("weights: malformed base64", "q", q, "w", "@@@@");
    assertQueryError("weights: component 0 is 1.0E19", "q", q, "w", "[1e19, 0, 0, 0]");
    assertQueryError(
        "weights: the squared norm exceeds 2.1267648E37 (2^124) at component 1",
        "q",
        q,
        "w",
        "[4e18, 4e18, 4e18, 4e18]");
    assertQueryError("weights: expected 4 floats, got 0", "q", "{!visual f=vec4 weights=''}");
    for (String bias : new String[] {"x", "NaN", "Infinity", "-Infinity", "1e39", "9e37", ""}) {
      assertQueryError(
          "bias: expected a finite number of magnitude at most 8.507059E37 (2^126), got '"
              + bias
              + "'",
          "q",
          "{!visual f=vec4 weights=$w bias='" + bias + "'}",
          "w",
          "[1, 0, 0, 0]");
    }
    assertQueryError(
        "bias: only applies to weights=, the linear mode",
        "q",
        "{!visual f=vec4 bias=1}[1, 0, 0, 0]");
  }

  /** Weights are one of the sources; what only distances have is refused, naming it. */
  @Test
  public void testWeightsExcludeTheDistanceModesParameters() {
    String w = "[1, 0, 0, 0]";
    assertQueryError(
        "v, id, like, weights: ", "q", "{!visual f=vec4 weights=$w}[1, 2, 3, 4]", "w", w);
    assertQueryError("got 2", "q", "{!visual f=vec4 weights=$w}[1, 2, 3, 4]", "w", w);
    assertQueryError("got 2", "q", "{!visual f=vec4 weights=$w id=a1}", "w", w);
    assertQueryError("got 2", "q", "{!visual f=vec4 weights=$w like=a1}", "w", w);
    assertQueryError("got 3", "q", "{!visual f=vec4 weights=$w id=a1 like=a1}", "w", w);
    for (String param : new String[] {"unlike=a1", "unlikeWeight=1", "maxDist=2", "probe=1"}) {
      String name = param.substring(0, param.indexOf('='));
      assertQueryError(
          name + ": does not apply to weights=, the linear mode, which ranks every document with a"
              + " vector by w.x + b",
          "q",
          "{!visual f=vec4cells weights=$w " + param + "}",
          "w",
          w);
    }
    assertQueryError(
        "score: the linear mode's score is the order key of w.x + b (score=rank)",
        "q",
        "{!visual f=vec4 weights=$w score=similarity}",
        "w",
        w);
    assertQueryError(
        "score: expected rank or similarity, got 'bm25'",
        "q",
        "{!visual f=vec4 weights=$w score=bm25}",
        "w",
        w);
    assertQ(
        req("q", "{!visual f=vec4 weights=$w score=rank}", "w", w),
        "//result[@numFound='2']",
        "//result/doc[1]/str[@name='id'][.='a1']");
  }

  @Test
  public void testQueryByIdNeedsALiveDocumentWithAVector() {
    assertQueryError("id: no document 'nope'", "q", "{!visual f=vec4 id=nope}");
    assertQueryError("id: no document 'old'", "q", "{!visual f=vec4 id=old}");
    assertQueryError(
        "id: document 'a2' has no vector in field vec4", "q", "{!visual f=vec4 id=a2}");
  }

  @Test
  public void testLikeAndUnlikeNeedKnownDocumentsAndAWeight() {
    assertQueryError("like: no document 'nope'", "q", "{!visual f=vec4 like=a1,nope}");
    assertQueryError("unlike: no document 'old'", "q", "{!visual f=vec4 like=a1 unlike=old}");
    assertQueryError(
        "like: document 'a2' has no vector in field vec4", "q", "{!visual f=vec4 like=a2}");
    assertQueryError(
        "like: expected 1 to 100 comma-separated ids, got 0", "q", "{!visual f=vec4 like=','}");
    String many = String.join(",", java.util.Collections.nCopies(101, "a1"));
    assertQueryError(
        "like: expected 1 to 100 comma-separated ids, got 101",
        "q",
        "{!visual f=vec4 like=" + many + "}");
    for (String weight : new String[] {"-0.5", "x", "Infinity"}) {
      assertQueryError(
          "unlikeWeight: expected a finite weight >= 0, got '" + weight + "'",
          "q",
          "{!visual f=vec4 like=a1 unlike=a1 unlikeWeight=" + weight + "}");
    }
  }

  @Test
  public void testModelMustMatchTheIndex() {
    assertQ(
        req("q", "{!visual f=vec4 model=m1}[1, 0, 0, 0]"),
        "//result[@numFound='2']",
        "//str[@name='id'][.='a1']");
    // A conflict with the index's state, not bad input: 409.
    String message =
        "model: query made with PCA model 'm0' but the index holds vectors of model 'm1';"
            + " re-embed the query with the index's model, or finish its re-index";
    assertQEx(message, message, req("q", "{!visual f=vec4 model=m0}[1, 0, 0, 0]"), ErrorCode.CONFLICT);
    assertQueryError(
        "model: expected the version of the PCA model that made the query vector, got ''",
        "q",
        "{!visual f=vec4 model=''}[1, 0, 0, 0]");
    // Bad input is reported before the conflict: the request is checked before the index.
    assertQueryError(
        "maxDist: expected a finite squared distance >= 0, got '-1'",
        "q",
        "{!visual f=vec4 model=m0 maxDist=-1}[1, 0, 0, 0]");
    // and so for weights
    String w = "[0, 0, 1, 0]";
    assertQ(req("q", "{!visual f=vec4 model=m1 weights=$w}", "w", w), "//result[@numFound='2']");
    SolrQueryRequest conflicting = req("q", "{!visual f=vec4 model=m0 weights=$w}", "w", w);
    assertQEx(message, message, conflicting, ErrorCode.CONFLICT);
    assertQueryError(
        "bias: expected a finite number",
        "q",
        "{!visual f=vec4 model=m0 weights=$w bias=x}",
        "w",
        w);
    assertQueryError(
        "weights: expected 4 floats", "q", "{!visual f=vec4 model=m0 weights=$w}", "w", "[1]");
  }

  @Test
  public void testBadFunctionArguments() {
    assertQueryError(
        "sqdist: field 'category' is of type string",
        "q",
        "*:*",
        "fl",
        "sqdist(category, $qv)",
        "qv",
        "[1, 2, 3, 4]");
    assertQueryError("sqdist: missing the vector", "q", "*:*", "fl", "sqdist(vec4)");
    assertQueryError(
        "sqdist: expected 4 floats, got 2", "q", "*:*", "fl", "sqdist(vec4, \"[1, 2]\")");
  }

  @Test
  public void testFieldIsNotSortableOrSearchableByValue() {
    assertQueryError(
        "vec4: sorting is not supported on an image vector; use {!visual f=vec4} or sqdist(vec4,",
        "q",
        "*:*",
        "sort",
        "vec4 asc");
    assertQueryError("vec4: a term query is not supported", "q", "vec4:abc");
    assertQueryError("vec4: a range query is not supported", "q", "vec4:[a TO b]");
    assertQueryError("vec4: use as a function is not supported", "q", "*:*", "fl", "field(vec4)");
  }

  private static void assertIndexError(String vectorJson, String message) {
    String doc = "[{\"id\": \"bad\", \"vec4\": " + vectorJson + "}]";
    try (ErrorLogMuter expected = ErrorLogMuter.substring("[doc=bad]")) {
      SolrException e = expectThrows(SolrException.class, () -> updateJ(doc, null));
      assertEquals(ErrorCode.BAD_REQUEST.code, e.code());
      assertTrue(e.getMessage(), e.getMessage().contains(message));
    }
  }

  private static void assertQueryError(String message, String... params) {
    assertQEx(message, message, req(params), ErrorCode.BAD_REQUEST);
  }
}
