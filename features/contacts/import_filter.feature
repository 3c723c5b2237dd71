Feature: Choosing which QBO contacts to import
  Select which contacts to import. You can choose All contacts, Active contacts, or Inactive
  contacts. Selecting Active or Inactive contacts will specify that only Active or Inactive
  contacts in QBO will be brought to Canopy.

  @R5
  Scenario Outline: Importing <choice> contacts reviews only the QBO customers that are <choice>
    Given the Admin of the "contacts_import_filter" firm has connected its QBO company
    When the Admin chooses to import "<choice>" contacts
    Then each review section holds as many records as the ground truth says for "<choice>"
    When the Admin reads every page of every review section
    Then the review sections hold exactly the records the ground truth puts in them for "<choice>"
    And the QBO customers outside the "<choice>" choice are in no review section

    Examples:
      | choice   |
      | All      |
      | Active   |
      | Inactive |

  @R5
  Scenario Outline: A sub-customer takes part like a top-level customer when importing <choice> contacts
    Given the Admin of the "contacts_import_filter" firm has connected its QBO company
    And an active sub-customer of an active QBO customer was added in QBO
    When the Admin chooses to import "<choice>" contacts
    And the Admin reads every page of every review section
    Then the sub-customer <where>

    Examples:
      | choice   | where                          |
      | All      | is listed under New Contacts   |
      | Active   | is listed under New Contacts   |
      | Inactive | is in no review section        |
