"""The process designer's pages: library, BPMN/DMN/form editors, validate, deploy, diff, migrate,
import and export. Only designers use them; the logic lives in ``app.processes``."""
