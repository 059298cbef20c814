package io.lookalike.solr;

import java.io.IOException;
import org.apache.lucene.search.BulkScorer;
import org.apache.lucene.search.DocIdSetIterator;
import org.apache.lucene.search.LeafCollector;
import org.apache.lucene.search.Scorable;
import org.apache.lucene.util.Bits;

/**
 * Scores one segment for a {@code {!visual}} query that Lucene runs on its own, as in an unfiltered
 * or approximate top-k search: candidates in batches of {@link #BATCH}, screened by a bound from
 * their sketches in one loop (see {@link SegmentRanking#screen}), then the exact keys of the
 * survivors, with the collector's minimum competitive score applied as in {@link VisualScorer}.
 * Wrapped in a filter or another clause, the query goes through {@link VisualScorer}'s two-phase
 * iterator instead, which lets the other clauses lead.
 */
final class VisualBulkScorer extends BulkScorer {

  /** Candidates screened at once: enough to overlap their bounds, few enough to stay in cache. */
  static final int BATCH = 64;

  private final DocIdSetIterator candidates;
  private final SegmentRanking ranking;
  private final Hit hit;
  private final int[] docs = new int[BATCH];

  /**
   * @param candidates the documents to score, in order: an iterator of its own, as the ranking's
   *     values are moved by {@link ImageVectorValues#advanceExact}
   */
  VisualBulkScorer(DocIdSetIterator candidates, SegmentRanking ranking) {
    this.candidates = candidates;
    this.ranking = ranking;
    this.hit = new Hit(ranking);
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
      int kept = ranking.screen(docs, count, hit.bound);
      for (int i = 0; i < kept; i++) {
        if (ranking.values.advanceExact(docs[i]) == false) {
          throw new IllegalStateException("document " + docs[i] + " lost its vector");
        }
        float key = ranking.keyScreened(i, hit.bound);
        if (key <= hit.bound) {
          hit.doc = docs[i];
          hit.key = key;
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
    private final SegmentRanking ranking;
    int doc = -1;
    float key;

    /** A document matches if and only if its key is {@code <= bound}. */
    float bound;

    Hit(SegmentRanking ranking) {
      this.ranking = ranking;
      this.bound = ranking.threshold();
    }

    @Override
    public float score() {
      return ranking.score(key);
    }

    @Override
    public int docID() {
      return doc;
    }

    @Override
    public void setMinCompetitiveScore(float minScore) {
      bound = ranking.bound(minScore);
    }
  }
}
