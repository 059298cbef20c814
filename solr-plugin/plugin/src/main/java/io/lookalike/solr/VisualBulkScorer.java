package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.search.BulkScorer;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.LeafCollector;
import org.apache.lucene.search.Scorable;
import org.apache.lucene.util.Bits;

/**
 * Scores one segment for a {@code {!visual}} query that Lucene runs on its own, as in an unfiltered
 * or approximate top-k search: candidates in batches of {@link #BATCH}, screened by their first
 * sketch stage in one loop (see {@link ImageVectorValues#screen}), then the exact distances of the
 * survivors, with the collector's minimum competitive score applied as in {@link VisualScorer}.
 * Wrapped in a filter or another clause, the query goes through {@link VisualScorer}'s two-phase
 * iterator instead, which lets the other clauses lead.
 */
final class VisualBulkScorer extends BulkScorer {

  /** Candidates screened at once: enough to overlap their bounds, few enough to stay in cache. */
  static final int BATCH = 64;

  private final DocIdSetIterator candidates;
  private final ImageVectorValues values;
  private final float[] target;
  private final Hit hit;
  private final int[] docs = new int[BATCH];

  /**
   * @param candidates the documents to score, in order: an iterator of its own, as {@code values}
   *     is moved by {@link ImageVectorValues#advanceExact}
   */
  VisualBulkScorer(
      DocIdSetIterator candidates,
      ImageVectorValues values,
      float[] target,
      float maxDist,
      VisualScore form,
      float boost) {
    this.candidates = candidates;
    this.values = values;
    this.target = target;
    this.hit = new Hit(maxDist, form, boost);
  }

  @Override
  public int score(LeafCollector collector, Bits acceptDocs, int min, int max) throws IOException {
    collector.setScorer(hit);
    // the documents still competitive for the collector's sort (e.g. by a field), or null for all
    DocIdSetIterator competitive = collector.competitiveIterator();
    int doc = candidates.docID() < min ? candidates.advance(min) : candidates.docID();
    while (doc < max) {
      int count = 0;
      while (count < BATCH && doc < max) {
        if (competitive != null) {
          int next = competitive.docID() < doc ? competitive.advance(doc) : competitive.docID();
          if (next > doc) {
            doc = next < max ? candidates.advance(next) : next;
            continue;
          }
        }
        if (acceptDocs == null || acceptDocs.get(doc)) {
          docs[count++] = doc;
        }
        doc = candidates.nextDoc();
      }
      int kept = values.screen(docs, count, target, hit.bound);
      for (int i = 0; i < kept; i++) {
        if (values.advanceExact(docs[i]) == false) {
          throw new IllegalStateException("document " + docs[i] + " lost its vector");
        }
        float distance = values.squaredDistanceScreened(i, target, hit.bound);
        if (distance <= hit.bound) {
          hit.doc = docs[i];
          hit.distance = distance;
          collector.collect(docs[i]);
        }
      }
    }
    return doc;
  }

  @Override
  public long cost() {
    return candidates.cost();
  }

  /** The current hit, as the collector sees it. */
  private static final class Hit extends Scorable {
    private final float maxDist;
    private final VisualScore form;
    private final float boost;
    int doc = -1;
    float distance;

    /** A document matches if and only if its distance is {@code <= bound}. */
    float bound;

    Hit(float maxDist, VisualScore form, float boost) {
      this.maxDist = maxDist;
      this.form = form;
      this.boost = boost;
      this.bound = maxDist;
    }

    @Override
    public float score() {
      return form.score(boost, distance);
    }

    @Override
    public int docID() {
      return doc;
    }

    @Override
    public void setMinCompetitiveScore(float minScore) {
      bound = form.bound(maxDist, boost, minScore);
    }
  }
}
