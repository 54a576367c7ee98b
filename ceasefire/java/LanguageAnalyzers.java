/*
 * The six language analyzers the articles mapping's stemmed sub-fields name (`english`, `french`,
 * `german`, `spanish`, `russian`, `arabic`), for the local development node only.
 *
 * Elastic's integ-test distribution, the one node Maven Central serves, leaves out the
 * analysis-common module that registers these names on every full cluster. This stable plugin
 * registers the same names over the same Lucene classes with their default stop words and no stem
 * exclusions, which is what analysis-common builds for an analyzer named without settings.
 * Never install it on a full cluster: the names would clash with analysis-common's.
 * Built and installed by ceasefire/language_analyzers.py against the node's own jars.
 */
package org.ceasefire.analysis;

import org.apache.lucene.analysis.Analyzer;
import org.apache.lucene.analysis.ar.ArabicAnalyzer;
import org.apache.lucene.analysis.de.GermanAnalyzer;
import org.apache.lucene.analysis.en.EnglishAnalyzer;
import org.apache.lucene.analysis.es.SpanishAnalyzer;
import org.apache.lucene.analysis.fr.FrenchAnalyzer;
import org.apache.lucene.analysis.ru.RussianAnalyzer;
import org.elasticsearch.plugin.NamedComponent;
import org.elasticsearch.plugin.analysis.AnalyzerFactory;

public final class LanguageAnalyzers {
    private LanguageAnalyzers() {}

    @NamedComponent("english")
    public static final class English implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new EnglishAnalyzer();
        }
    }

    @NamedComponent("french")
    public static final class French implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new FrenchAnalyzer();
        }
    }

    @NamedComponent("german")
    public static final class German implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new GermanAnalyzer();
        }
    }

    @NamedComponent("spanish")
    public static final class Spanish implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new SpanishAnalyzer();
        }
    }

    @NamedComponent("russian")
    public static final class Russian implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new RussianAnalyzer();
        }
    }

    @NamedComponent("arabic")
    public static final class Arabic implements AnalyzerFactory {
        @Override
        public Analyzer create() {
            return new ArabicAnalyzer();
        }
    }
}
